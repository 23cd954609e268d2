/**
 * The vault's tables (`xv_`), in order — apart from the vault itself, so that opening the platform (which
 * migrates every part) does not load the vault's code.
 */
import { envelopeMigrations } from './envelope/migrations.js';
import { releasePolicyMigrations } from './release/policy.js';
import type { Migration } from '../store/index.js';

export const vaultMigrations: Migration[] = [...envelopeMigrations, ...releasePolicyMigrations];
