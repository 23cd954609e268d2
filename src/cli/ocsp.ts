/**
 * `truc ocsp serve`: the OCSP responder as a role of its own — opens the platform, provisions the
 * responder certificates, signs the cached responses, and serves OCSP only, on the lean HTTP server.
 */
import type { Command } from 'commander';
import { runUntilSignal } from './serve.js';
import type { Config } from '../config.js';

export function ocspCommand(program: Command, config: () => Config): void {
  const ocsp = program.command('ocsp').description('the OCSP responder (RFC 6960, RFC 5019)');
  ocsp
    .command('serve')
    .description(
      'Serve OCSP only: POST /ocsp (or /) and GET /ocsp/{base64}. Responses for every known certificate are signed ahead and kept fresh; revocations show at once (bus events in this process, polling for other processes on the same database).',
    )
    .option('--port <port>', 'port (default: the configured HTTP port)')
    .option('--host <host>', 'address to listen on (default: the configured host)')
    .action(async (o) => {
      // the responder and its server load only when this command runs (./lazy.ts)
      const [{ OcspResponder }, { ocspServer }] = await Promise.all([import('../pki/ocsp/index.js'), import('../http/ocsp/serve.js')]);
      await runUntilSignal(config(), async (p) => {
        const responder = new OcspResponder(p.pki, p.issuer, p.config.ocsp, p.log);
        await responder.start();
        const server = ocspServer(responder);
        const port = o.port !== undefined ? Number(o.port) : p.config.http.port;
        const host = o.host ?? p.config.http.host;
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, host, resolve);
        });
        const addr = server.address();
        const url = typeof addr === 'object' && addr ? `http://${host}:${addr.port}` : String(addr);
        p.log.info({ url, responses: responder.cache.size }, 'OCSP responder is running');
        return async () => {
          server.close();
          server.closeAllConnections();
          await responder.stop();
        };
      });
    });
}
