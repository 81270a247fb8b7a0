-- Each US place in the county that contains it. A place on a boundary shared by two counties goes to the
-- one with the lower geoid, so every place is counted once.
CREATE TABLE us_places AS
SELECT p.geonameid, p.name, p.admin_code AS state, p.population, c.geoid AS county_geoid, p.geom
FROM places p
CROSS JOIN LATERAL (
  SELECT geoid FROM counties c
  WHERE ST_Intersects(c.geom, p.geom)
  ORDER BY geoid
  LIMIT 1
) c
WHERE p.country = 'US';
