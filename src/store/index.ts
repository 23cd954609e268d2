/**
 * Storage: the database handle (PGlite embedded or PostgreSQL) and the migration runner. Parts own their
 * tables through their own store modules and pass their migrations to `migrate`.
 */
export { openDb, type Db, type Sql, type OpenOptions } from './db.js';
export { migrate, type Migration } from './migrate.js';
