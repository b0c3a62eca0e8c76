// The prober's worker thread: TLS handshakes with endpoints, and the certificate facts of what they
// presented. Everything the peer sends is handled here, never on the operator's event loop: the main
// thread (prober.ts) gets plain ProbeResults.
//
// Each probe: a raw net.Socket (its reads counted, and the first bytes checked for a TLS record before
// OpenSSL sees more), wrapped by tls.connect; handshake only, no application data; closed as soon as the
// handshake is done. The answer is posted after the socket has closed, so the main thread's count of
// probes in flight is a count of open sockets.
//
// mTLS: the certificates are captured when OpenSSL has processed the server's first flight (the
// status_request callback, Node's 'OCSPResponse' event, which runs before the client sends its own,
// empty, Certificate). A TLS 1.2 server that then aborts for want of a client certificate still shows
// its certificate; a TLS 1.3 server completes the client side of the handshake before it checks.
// A CertificateRequest is recognised by the signature algorithms it carries (getSharedSigalgs is only
// filled on the client by one): TLS 1.0/1.1 requests carry none and are not recognised.
import { connect, createSecureContext } from 'node:tls';
import type { CipherNameAndProtocol, DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { isIP, Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { classifyError, sniffTls } from './probe-classify.ts';
import { servedChain } from './served-cert.ts';
import type { ProbeError, ProbeResult } from './types.ts';

/** What the main thread sends: one handshake. `servername` already vetted ('' = no SNI). */
export interface ProbeTask {
  id: number;
  ip: string;
  port: number;
  servername: string;
  timeoutMs: number;
}
export interface ProbeAnswer {
  id: number;
  result: ProbeResult;
}
export interface ProbeWorkerData {
  maxBytes: number;
  maxChain: number;
}

interface Seen {
  ders: Buffer[];
  presented: number;
  protocol: string;
  cipher: string;
  clientCertRequested: boolean;
}
type Failure = { error: ProbeError; message: string };

const port = parentPort;
if (!port) throw new Error('probe-worker runs only as a worker thread');
const limits = workerData as ProbeWorkerData;
// One context for every probe: no trust store (ca: [] keeps Node from adding its roots to what
// getPeerCertificate reports as the chain: only presented certificates), old protocols allowed so they are seen.
const context = createSecureContext({ minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0', ca: [] });

port.on('message', (t: ProbeTask) => {
  const started = performance.now();
  // a throw while setting up one probe (it should not happen) answers that probe, not the whole worker
  void handshake(t)
    .catch(() => answer(undefined, { error: 'tls_error', message: 'probe failed to start' }, started))
    .then((result) => port.postMessage({ id: t.id, result } satisfies ProbeAnswer));
});

/** Walks the peer's certificates leaf first; Node links them issuer by issuer, the root to itself. */
function peerCertificates(s: TLSSocket, keep: number): { ders: Buffer[]; presented: number } {
  const ders: Buffer[] = [];
  let presented = 0;
  let c: DetailedPeerCertificate | undefined = s.getPeerCertificate(true);
  // 100 KiB of certificate list (OpenSSL's limit) holds well under 2,000 certificates: a cap against cycles
  while (c?.raw && presented < 4096) {
    presented++;
    if (ders.length < keep) ders.push(c.raw);
    const next: DetailedPeerCertificate | undefined = c.issuerCertificate;
    c = next === c ? undefined : next;
  }
  return { ders, presented };
}

function cipherOf(s: TLSSocket): string | undefined {
  try {
    const c: CipherNameAndProtocol | undefined = s.getCipher(); // undefined in the middle of a TLS 1.2 handshake
    return c?.name;
  } catch {
    return undefined;
  }
}

/** What the peer has shown so far; undefined before its certificate (or when Node cannot say). */
function capture(s: TLSSocket): Seen | undefined {
  try {
    const { ders, presented } = peerCertificates(s, 1 + limits.maxChain);
    if (presented === 0) return undefined;
    return {
      ders,
      presented,
      protocol: s.getProtocol() ?? 'unknown',
      // a TLS 1.2 handshake has no current cipher before ChangeCipherSpec (the early capture of mTLS)
      cipher: cipherOf(s) ?? 'unknown',
      clientCertRequested: s.getSharedSigalgs().length > 0,
    };
  } catch {
    return undefined;
  }
}

function answer(seen: Seen | undefined, failure: Failure | undefined, started: number): ProbeResult {
  const common = { at: Date.now(), durationMs: Math.round((performance.now() - started) * 10) / 10 };
  if (failure || !seen)
    return { ...common, ok: false, ...(failure ?? { error: 'tls_error', message: 'no certificate' }) };
  try {
    const { leaf, chain } = servedChain(seen.ders);
    const { protocol, cipher, presented, clientCertRequested } = seen;
    return { ...common, ok: true, protocol, cipher, leaf, chain, presented, clientCertRequested };
  } catch {
    return { ...common, ok: false, error: 'tls_error', message: 'the presented certificate is not parsable' };
  }
}

function handshake(t: ProbeTask): Promise<ProbeResult> {
  const started = performance.now();
  // the main thread checked it already; a name here would mean a DNS lookup, which the prober never does
  if (isIP(t.ip) === 0)
    return Promise.resolve(answer(undefined, { error: 'address_not_allowed', message: 'not an IP literal' }, started));
  return new Promise((resolve) => {
    const raw = new Socket();
    let received = 0;
    let prefix = Buffer.alloc(0);
    let seen: Seen | undefined;
    let failure: Failure | undefined;
    let done = false;
    const tls = connect({
      socket: raw,
      secureContext: context,
      rejectUnauthorized: false,
      requestOCSP: true,
      ...(t.servername ? { servername: t.servername } : {}),
    });
    const finish = (f?: Failure): void => {
      if (done) return;
      done = true;
      failure = f;
      tls.destroy();
      raw.destroy();
    };
    const timer = setTimeout(
      // an mTLS server still waiting after it showed its certificate has answered all we ask
      () =>
        finish(
          seen?.clientCertRequested
            ? undefined
            : { error: 'timeout', message: `no TLS answer within ${t.timeoutMs} ms` },
        ),
      t.timeoutMs,
    );
    // registered before tls.connect's own reader saw any byte: over-budget or non-TLS bytes stop here
    raw.prependListener('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.maxBytes)
        finish({
          error: 'over_budget',
          message: `peer sent more than ${limits.maxBytes} bytes before the handshake completed`,
        });
      if (prefix.length >= 3) return;
      prefix = Buffer.concat([prefix, chunk.subarray(0, 3 - prefix.length)]);
      if (sniffTls(prefix) === 'not_tls') finish({ error: 'not_tls', message: 'the answer is not a TLS record' });
    });
    tls.on('OCSPResponse', () => {
      seen = capture(tls);
    });
    tls.on('secureConnect', () => {
      seen = capture(tls) ?? seen;
      finish();
    });
    const onError = (e: Error & { code?: string }): void => {
      // a TLS 1.2 mTLS server aborts after showing its certificate: that is an answer, not a failure
      if (seen?.clientCertRequested) {
        seen.cipher = cipherOf(tls) ?? seen.cipher; // set once the client's ChangeCipherSpec went out
        finish();
      } else finish(classifyError(e.code, received));
    };
    tls.on('error', onError);
    raw.on('error', onError);
    raw.on('close', () => {
      clearTimeout(timer);
      if (!done) finish(seen?.clientCertRequested ? undefined : classifyError('ECONNRESET', received));
      resolve(answer(seen, failure, started));
    });
    raw.connect(t.port, t.ip);
  });
}
