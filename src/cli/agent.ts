/**
 * `truc agent`: the official's local signing agent (src/agent), run on the official's own computer beside
 * the token. Every request is shown on this terminal — what would be signed, for which site, with which
 * certificate — and signs only once the official types the token's PIN (an empty answer declines).
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { TrucError } from '../errors.js';
import type { SignRequest } from '../agent/server.js';

const DEFAULT_MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'];

/** Asks on the terminal; the PIN is not echoed. */
async function askPin(r: SignRequest): Promise<{ pin: string } | null> {
  const out = process.stderr;
  out.write(
    [
      '',
      '──────── YÊU CẦU KÝ SỐ / SIGNING REQUEST ────────',
      `Trang yêu cầu (site):      ${r.site}`,
      `Chứng thư (certificate):   ${r.certificate.subject}`,
      `Số văn bản (documents):    ${r.items.length}`,
      ...r.items.map((it, i) => `  ${i + 1}. ${it.title}\n     SHA-256 ${it.sha256}`),
      // the token counts wrong PINs: said before the PIN is typed, loudest on the last try
      ...(r.pinWarning ? ['', `${r.pin === 'final_try' ? '!!! ' : ''}CHÚ Ý / NOTE: ${r.pinWarning}`] : []),
      '',
    ].join('\n') + '\n',
  );
  let muted = false;
  const sink = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) out.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output: sink, terminal: true });
  try {
    const pin = await new Promise<string>((resolve) => {
      rl.question('Nhập PIN để ký, để trống để từ chối (PIN to sign, empty to decline): ', resolve);
      muted = true;
    });
    out.write('\n');
    return pin ? { pin } : null;
  } finally {
    rl.close();
  }
}

export function agentCommands(program: Command): void {
  program
    .command('agent')
    .description('Bộ ký số tại máy cán bộ / the local signing agent: signs data to be signed from the console with the key on the official’s token, after showing what is signed and asking the PIN; listens on 127.0.0.1 only and answers only the console’s origin')
    .requiredOption('--origin <url>', 'the console’s origin (e.g. https://truc.bo-tu-phap.gov.vn); requests from any other are refused')
    .option('--module <path>', 'the token vendor’s PKCS#11 library (default SoftHSM2’s)')
    .option('--token-label <label>', 'the token, by its label')
    .option('--slot <n>', 'the token, by its index among slots with a token (default 0)')
    .option('--port <n>', 'the loopback port', '8477')
    .action(async (o: { origin: string; module?: string; tokenLabel?: string; slot?: string; port: string }) => {
      if (!process.stdin.isTTY) throw new TrucError('bad_request', 'truc agent hỏi cán bộ xác nhận từng lần ký trên cửa sổ dòng lệnh: hãy chạy trong terminal / truc agent asks the official to confirm each signature on its terminal: run it in a terminal');
      const { existsSync } = await import('node:fs');
      const module = o.module ?? DEFAULT_MODULES.find((m) => existsSync(m));
      if (!module) throw new TrucError('bad_request', 'không thấy thư viện PKCS#11 / no PKCS#11 library: give --module (the token vendor’s .so)');
      const { startAgent } = await import('../agent/server.js');
      const agent = await startAgent({
        token: { module, slot: o.tokenLabel ? { tokenLabel: o.tokenLabel } : { index: Number(o.slot ?? 0) } },
        origin: o.origin,
        port: Number(o.port),
        confirm: askPin,
        log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      });
      process.stderr.write(`bộ ký số đang chạy / agent listening: ${agent.url} (nguồn gọi / origin ${new URL(o.origin).origin})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void agent.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
