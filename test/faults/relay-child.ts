/**
 * A relay in a process of its own, for the kill test: relays the outbox of the database it is given to
 * the NATS stream it is given, and reports on stdout how many events it relayed, until it is killed.
 */
import { openDb } from '../../src/store/index.js';
import { NatsBus } from '../../src/bus/nats.js';
import { OutboxBus } from '../../src/bus/outbox.js';

const [url, servers, stream, prefix] = process.argv.slice(2);
const db = await openDb({ url: url! });
const bus = await NatsBus.connect({ servers: servers!, stream, subjectPrefix: prefix });
const outbox = new OutboxBus(db, bus, { instance: 'child', durable: true, pipeline: true, batchSize: 20, leaseSeconds: 1 });
setInterval(() => process.stdout.write(`relayed ${outbox.stats.relayed}\n`), 5);
