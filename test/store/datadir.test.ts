import { describe, it, expect } from 'vitest';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { secureDataDir } from '../../src/datadir.js';
import { tmp } from '../helpers/openssl.js';

describe('the data folder is the operator’s alone', () => {
  it('makes the folder 0700 and tightens an embedded database left readable by others', () => {
    const dir = tmp('datadir-');
    const db = join(dir, 'pgdata');
    mkdirSync(join(db, 'base'), { recursive: true });
    writeFileSync(join(db, 'base', 'rel'), 'x');
    writeFileSync(join(dir, 'other.txt'), 'y');
    chmodSync(dir, 0o755);
    chmodSync(db, 0o755);
    chmodSync(join(db, 'base'), 0o755);
    chmodSync(join(db, 'base', 'rel'), 0o644);
    chmodSync(join(dir, 'other.txt'), 0o644);
    const fixed = secureDataDir(dir, db);
    expect(fixed).toBe(4); // the folder, the database folder, its subfolder and its file
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(db).mode & 0o777).toBe(0o700);
    expect(statSync(join(db, 'base', 'rel')).mode & 0o777).toBe(0o600);
    // outside the database only the folder itself is changed
    expect(statSync(join(dir, 'other.txt')).mode & 0o777).toBe(0o644);
    // a second call finds nothing to change
    expect(secureDataDir(dir, db)).toBe(0);
    // files created afterwards are private by the umask
    writeFileSync(join(dir, 'new.txt'), 'z');
    expect(statSync(join(dir, 'new.txt')).mode & 0o077).toBe(0);
  });
});
