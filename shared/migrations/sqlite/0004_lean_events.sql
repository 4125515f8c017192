-- PostgreSQL's 0004 drops the events' foreign key and second index; SQLite keeps its
-- table as is (its rowid is already the only key), so nothing changes here.
SELECT 1;
