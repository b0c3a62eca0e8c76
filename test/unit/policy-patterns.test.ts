import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { BlockList } from 'node:net';
import {
  compileDnsPattern,
  compileEmailPattern,
  compileUriPattern,
  dnsNameLabels,
  glob,
  isValidNamespace,
  matchesDnsPattern,
  matchesEmailPattern,
  matchesUriPattern,
  parseUri,
} from '../../src/policy/patterns.ts';
import { compileCidr, matchesCidr, parseIp } from '../../src/policy/ip-ranges.ts';

const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
const namespace = label;

describe('DNS patterns: table', () => {
  const cases: [string, string, string, boolean][] = [
    ['*.example.com', 'api.example.com', 'ns', true],
    ['*.example.com', 'API.EXAMPLE.COM', 'ns', true],
    ['*.example.com', 'api.example.com.', 'ns', true],
    ['*.example.com.', 'api.example.com', 'ns', true],
    ['*.EXAMPLE.com', 'api.example.com', 'ns', true],
    ['*.example.com', 'example.com', 'ns', false],
    ['*.example.com', 'example.com.evil.net', 'ns', false],
    ['*.example.com', 'a.b.example.com', 'ns', false],
    ['*.example.com', 'evilexample.com', 'ns', false],
    ['*.example.com', '.example.com', 'ns', false],
    ['*.example.com', 'a..example.com', 'ns', false],
    ['*.example.com', 'api.example.com..', 'ns', false],
    ['*.example.com', 'a pi.example.com', 'ns', false],
    ['*.example.com', 'äpi.example.com', 'ns', false],
    ['*.example.com', '-api.example.com', 'ns', false],
    ['*.example.com', '', 'ns', false],
    ['*.example.com', '*.example.com', 'ns', true],
    ['*.example.com', '*.*.example.com', 'ns', false],
    ['*.example.com', 'a.*.example.com', 'ns', false],
    ['api.example.com', '*.example.com', 'ns', false],
    ['*.{{namespace}}.svc', 'api.payments.svc', 'payments', true],
    ['*.{{namespace}}.svc', 'api.billing.svc', 'payments', false],
    ['*.{{namespace}}.svc', 'api.a.b.svc', 'a.b', false],
    ['*.{{namespace}}.svc', 'api.x.svc', '*', false],
    ['*.{{namespace}}.svc', 'api..svc', '', false],
    ['*.{{namespace}}.svc', 'api.pay.svc', 'PAY', false],
    ['{{namespace}}-api.example.com', 'payments-api.example.com', 'payments', true],
    ['api-*.example.com', 'api-1.example.com', 'ns', false],
    ['*', 'localhost', 'ns', true],
    ['a..b', 'a..b', 'ns', false],
  ];
  it.each(cases)('%s vs %s (ns %s) → %s', (p, n, ns, want) => expect(matchesDnsPattern(p, n, ns)).toBe(want));
});

describe('DNS patterns: properties', () => {
  const star = compileDnsPattern('*.example.com');
  it('*.example.com matches exactly one valid label + .example.com', () => {
    fc.assert(fc.property(label, (l) => expect(matchesDnsPattern(star, `${l}.example.com`, 'ns')).toBe(true)));
  });
  it('*.example.com never matches the apex, deeper names, suffix tricks or glued names', () => {
    fc.assert(
      fc.property(label, label, (a, b) => {
        for (const n of [
          'example.com',
          `${a}.${b}.example.com`,
          `example.com.${a}.net`,
          `${a}example.com`,
          `${a}.example.com.${b}`,
          `${a}.example.co`,
        ]) {
          expect(matchesDnsPattern(star, n, 'ns')).toBe(false);
        }
      }),
    );
  });
  it('upper-case and trailing-dot variants match exactly when the plain name does', () => {
    fc.assert(
      fc.property(
        fc.array(label, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('*.example.com', 'api.example.com', '*.*.com'),
        (ls, p) => {
          const name = `${ls.join('.')}.example.com`;
          const plain = matchesDnsPattern(p, name, 'ns');
          expect(matchesDnsPattern(p, name.toUpperCase(), 'ns')).toBe(plain);
          expect(matchesDnsPattern(p, `${name}.`, 'ns')).toBe(plain);
          expect(matchesDnsPattern(p, `${name}..`, 'ns')).toBe(false);
        },
      ),
    );
  });
  it('a name matches *.{{namespace}}.svc iff it is one label + .<ns>.svc', () => {
    const p = compileDnsPattern('*.{{namespace}}.svc');
    const name = fc.oneof(
      fc.tuple(label, namespace).map(([l, ns]) => `${l}.${ns}.svc`),
      fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('.')),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(name, namespace, (n, ns) => {
        const labels = n.toLowerCase().replace(/\.$/, '').split('.');
        const want =
          labels.length === 3 &&
          labels[1] === ns &&
          labels[2] === 'svc' &&
          /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(labels[0]!) &&
          labels[0]!.length <= 63;
        expect(matchesDnsPattern(p, n, ns)).toBe(want);
      }),
    );
  });
  it('a hostile namespace never widens *.{{namespace}}.svc', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), label, (ns, l) => {
        fc.pre(!isValidNamespace(ns));
        expect(matchesDnsPattern('*.{{namespace}}.svc', `${l}.${ns}.svc`, ns)).toBe(false);
      }),
    );
  });
  it('random strings never throw', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (p, n, ns) => {
        matchesDnsPattern(p, n, ns);
        dnsNameLabels(n);
        matchesUriPattern(p, n, ns);
        matchesEmailPattern(p, n, ns);
        matchesCidr(p, n);
        parseUri(n);
        parseIp(n);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('URI patterns', () => {
  const spiffe = 'spiffe://cluster.local/ns/{{namespace}}/sa/*';
  const cases: [string, string, boolean][] = [
    ['spiffe://cluster.local/ns/payments/sa/api', 'payments', true],
    ['SPIFFE://CLUSTER.LOCAL/ns/payments/sa/api', 'payments', true],
    ['spiffe://cluster.local/ns/payments/sa/API', 'payments', true],
    ['spiffe://cluster.local/NS/payments/sa/api', 'payments', false],
    ['spiffe://cluster.local/ns/payments/sa/api/extra', 'payments', false],
    ['spiffe://cluster.local/ns/payments/sa/../../billing/sa/api', 'payments', false],
    ['spiffe://cluster.local/ns/payments/sa/%2e%2e', 'payments', false],
    ['spiffe://cluster.local/ns/payments/sa/a%2fb', 'payments', false],
    ['spiffe://cluster.local/ns/payments/sa/api?x=1', 'payments', false],
    ['spiffe://cluster.local/ns/payments/sa/api#frag', 'payments', false],
    ['spiffe://cluster.local/ns/billing/sa/api', 'payments', false],
    ['spiffe://cluster.local.evil/ns/payments/sa/api', 'payments', false],
    ['spiffe://evil@cluster.local/ns/payments/sa/api', 'payments', false],
    ['spiffe://cluster.local/ns/payments//sa/api', 'payments', false],
    ['spiffe://cluster.local/ns/payments/sa/a b', 'payments', false],
    ['spiffe://cluster.local/ns/payments/sa/api', 'pay/ments', false],
    ['https://cluster.local/ns/payments/sa/api', 'payments', false],
  ];
  it.each(cases)('%s (ns %s) → %s', (uri, ns, want) => expect(matchesUriPattern(spiffe, uri, ns)).toBe(want));

  it('* never crosses a path segment', () => {
    const p = compileUriPattern('https://example.com/a/*/c');
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 4 }), (segs) => {
        expect(matchesUriPattern(p, `https://example.com/a/${segs.join('/')}/c`, 'ns')).toBe(segs.length === 1);
      }),
    );
  });
  it('glob agrees with an anchored regex', () => {
    const s = fc.stringMatching(/^[ab*]{0,8}$/);
    fc.assert(
      fc.property(s, fc.stringMatching(/^[ab]{0,10}$/), (p, t) => {
        const re = new RegExp(`^${p.replace(/\*/g, '.*')}$`);
        expect(glob(p, t)).toBe(re.test(t));
      }),
    );
  });
  it('glob stays fast on hostile patterns', () => {
    const t0 = performance.now();
    expect(glob('*a'.repeat(200) + 'b', 'a'.repeat(1000))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('e-mail patterns', () => {
  const cases: [string, string, boolean][] = [
    ['*@example.com', 'ops@example.com', true],
    ['*@example.com', 'ops@EXAMPLE.com', true],
    ['*@example.com', 'ops@eu.example.com', false],
    ['*@example.com', 'ops@example.com.evil.net', false],
    ['*@example.com', 'ops@evil.com@example.com', false],
    ['*@example.com', '@example.com', false],
    ['*@example.com', 'o ps@example.com', false],
    ['*@example.com', 'ops@*.example.com', false],
    ['ops-*@example.com', 'ops-payments@example.com', true],
    ['ops-*@example.com', 'dev@example.com', false],
    ['ops@*.example.com', 'ops@eu.example.com', true],
    ['ops@*.example.com', 'ops@a.eu.example.com', false],
    ['{{namespace}}@example.com', 'payments@example.com', true],
    ['{{namespace}}@example.com', 'billing@example.com', false],
    ['ops@example.com', 'OPS@example.com', false],
    ['not-a-pattern', 'not-a-pattern', false],
  ];
  it.each(cases)('%s vs %s → %s', (p, e, want) =>
    expect(matchesEmailPattern(compileEmailPattern(p), e, 'payments')).toBe(want),
  );
});

// Brute force: compare the first `prefix` bits of the two addresses' binary strings.
function bits(ip: string): string | undefined {
  const v = parseIp(ip);
  return v && v.value.toString(2).padStart(v.family === 4 ? 32 : 128, '0');
}

describe('CIDRs', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
  const v6 = fc
    .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
    .map((g) => g.map((x) => x.toString(16)).join(':'));

  it('IPv4 membership agrees with a bit-by-bit check and with node:net BlockList', () => {
    fc.assert(
      fc.property(v4, v4, fc.nat(32), (net, ip, prefix) => {
        const want = bits(net)!.slice(0, prefix) === bits(ip)!.slice(0, prefix);
        const bl = new BlockList();
        bl.addSubnet(net, prefix, 'ipv4');
        expect(matchesCidr(`${net}/${prefix}`, ip)).toBe(want);
        expect(bl.check(ip, 'ipv4')).toBe(want);
      }),
      { numRuns: 1000 },
    );
  });
  it('IPv6 membership agrees with a bit-by-bit check', () => {
    fc.assert(
      fc.property(v6, v6, fc.nat(128), (net, ip, prefix) => {
        fc.pre(!net.startsWith('0:0:0:0:0:ffff:') && !ip.startsWith('0:0:0:0:0:ffff:'));
        const want = bits(net)!.slice(0, prefix) === bits(ip)!.slice(0, prefix);
        expect(matchesCidr(`${net}/${prefix}`, ip)).toBe(want);
      }),
      { numRuns: 1000 },
    );
  });
  it('addresses near a range boundary', () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 1, max: 32 }), (net, prefix) => {
        const c = compileCidr(`${net}/${prefix}`);
        const size = 1n << BigInt(32 - prefix);
        const toIp = (n: bigint): string => [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
        expect(matchesCidr(c, toIp(c.network))).toBe(true);
        expect(matchesCidr(c, toIp(c.network + size - 1n))).toBe(true);
        if (c.network + size < 1n << 32n) expect(matchesCidr(c, toIp(c.network + size))).toBe(false);
        if (c.network > 0n) expect(matchesCidr(c, toIp(c.network - 1n))).toBe(false);
      }),
    );
  });
  it('IPv4-mapped IPv6 addresses and ranges are IPv4', () => {
    fc.assert(
      fc.property(v4, v4, fc.nat(32), (net, ip, prefix) => {
        const plain = matchesCidr(`${net}/${prefix}`, ip);
        expect(matchesCidr(`${net}/${prefix}`, `::ffff:${ip}`)).toBe(plain);
        expect(matchesCidr(`::ffff:${net}/${prefix + 96}`, ip)).toBe(plain);
      }),
    );
  });
  it.each([
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['fd00::/8', 'fd00::1', true],
    ['fd00::/8', 'fe80::1', false],
    ['::/0', '10.0.0.1', false],
    ['fe80::/10', 'fe80::1%eth0', false],
    ['10.0.0.0/33', '10.0.0.1', false],
    ['10.0.0.0', '10.0.0.0', false],
    ['10.0.0.0/8', '010.0.0.1', false],
    ['10.0.0.0/8', '::ffff:0a00:0001', true],
  ])('%s contains %s → %s', (cidr, ip, want) => expect(matchesCidr(cidr, ip)).toBe(want));
});
