/**
 * The exchange benchmark (./exchange.ts) with each security server on its own PostgreSQL database, as
 * agencies run them in production: the message-log index and operational records leave the server's
 * process for PostgreSQL's backends (their CPU is measured and reported beside the servers'). The 1 GiB
 * streaming run is the embedded benchmark's; storage does not touch a streamed body.
 */
import { describe as describeExchange, runExchange } from './exchange.js';

export const title = 'Exchange on PostgreSQL: requests through two security servers, each on its own database';

export async function run(): Promise<Record<string, unknown>> {
  return runExchange({ storage: 'postgres', bigMiB: 0 });
}

export const describe = describeExchange;
