-- Orleans' ADO.NET providers read their SQL from this table (one row per query key). Written for RoboRl from the
-- documented layout of Orleans' PostgreSQL-Main.sql (docs/cluster.md); idempotent, safe to run again.
CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey varchar(64) NOT NULL,
    QueryText varchar(8000) NOT NULL,
    CONSTRAINT OrleansQuery_Key PRIMARY KEY (QueryKey)
);
