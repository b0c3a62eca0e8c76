// Which ports of a Service serve TLS. Only a port that says so is probed: a handshake sent to a
// plaintext port proves nothing and looks like garbage to the server behind it.
import type { ServicePortRef } from './projections.ts';

/** appProtocol values that mean TLS (`h2` is the ALPN name of HTTP/2 over TLS; cleartext is `h2c`). */
const TLS_APP_PROTOCOLS = new Set(['https', 'tls', 'grpcs', 'h2']);
const TLS_NAMES = new Set(['https', 'tls', 'grpcs']);
const MAX_LISTED = 100;

/** The names and numbers the machineidentity.io/tls-ports annotation lists (comma-separated). */
export function listedPorts(annotation: string | undefined): Set<string> {
  return new Set(
    (annotation ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== '')
      .slice(0, MAX_LISTED),
  );
}

export function isTlsPort(p: ServicePortRef, listed: ReadonlySet<string>): boolean {
  if (p.appProtocol !== undefined && TLS_APP_PROTOCOLS.has(p.appProtocol.toLowerCase())) return true;
  const name = p.name.toLowerCase();
  if (TLS_NAMES.has(name) || name.startsWith('https-') || name.startsWith('tls-')) return true;
  return (name !== '' && listed.has(name)) || listed.has(String(p.port));
}

/** The ports of a Service that serve TLS, by appProtocol, port name, or the tls-ports annotation. */
export function tlsPorts(ports: readonly ServicePortRef[], annotation: string | undefined): ServicePortRef[] {
  const listed = listedPorts(annotation);
  return ports.filter((p) => isTlsPort(p, listed));
}
