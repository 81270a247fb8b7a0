CREATE TABLE stops_per_locality AS
SELECT locality, count(*)::int AS stops, ST_Centroid(ST_Collect(geom)) AS geom
FROM stops
GROUP BY locality;
