-- Nothing to undo: the documents are rebuilt from the tables either way.
SELECT 1;
