-- The 1:10m cartographic boundaries hold a few self-intersections and collapsed rings, and a very small
-- county (Falls Church, VA) collapses to a line: publish valid multipolygons, and no geometry where none is
-- left. The 'structure' method keeps polygons polygonal (and is the one PGlite's PostGIS gets right).
CREATE TABLE valid_counties AS
SELECT c.geoid, c.name, c.state, c.state_fips,
       CASE WHEN ST_IsEmpty(v.geom) THEN NULL ELSE ST_Multi(v.geom) END::geometry(MultiPolygon, 4326) AS geom
FROM counties c
CROSS JOIN LATERAL (
  SELECT CASE WHEN ST_IsValid(c.geom) THEN c.geom ELSE ST_MakeValid(c.geom, 'method=structure') END AS geom
) v;

-- One row per county: how many places it holds, how many people live in them, and the largest.
CREATE TABLE county_summary AS
WITH per_county AS (
  SELECT county_geoid AS geoid,
         count(*)::int AS place_count,
         sum(population)::bigint AS population_in_places,
         (array_agg(name ORDER BY population DESC NULLS LAST, geonameid))[1] AS largest_place
  FROM us_places
  GROUP BY county_geoid
)
SELECT c.geoid,
       c.name,
       c.state,
       c.state_fips,
       coalesce(a.place_count, 0) AS place_count,
       coalesce(a.population_in_places, 0) AS population_in_places,
       a.largest_place,
       round((ST_Area(c.geom::geography) / 1e6)::numeric, 1) AS area_km2,
       c.geom
FROM valid_counties c
LEFT JOIN per_county a USING (geoid);
