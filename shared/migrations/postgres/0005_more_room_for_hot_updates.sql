-- Room in each page for a job's later versions. With 70% a third of the claims and
-- successes found no room on the row's page under load (measured with pg_waldump): each
-- such update wrote the whole row elsewhere plus a lock record and one entry in every
-- index of `jobs`. Only pages written from now on are filled less.
ALTER TABLE jobs SET (fillfactor = 50);
