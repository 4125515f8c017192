-- Room in each page for a job's later versions, again (see 0005). With 50% a quarter of
-- the jobs still found no room on their page for one of their two updates (pg_waldump:
-- 11 700 non-HOT updates per 42 000 jobs, each a lock record and three index entries
-- more); with 40%, 3 800. The table takes a quarter more pages for the same jobs, which
-- retention bounds. Only pages written from now on are filled less.
ALTER TABLE jobs SET (fillfactor = 40);
