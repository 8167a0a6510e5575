import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as lookupCallback } from 'node:dns';

/**
 * The SSRF guard: webhook URLs must not reach the service's own network. Refused: private,
 * loopback, link-local, shared (CGNAT), multicast, reserved and documentation ranges, in IPv4 and
 * IPv6, and IPv4 addresses hidden in IPv6 (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96).
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;
const MAPPED_V4_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/** True for an address a webhook may be sent to. */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0] ?? '';
  const family = isIP(bare);
  if (family === 4) return !blocked.check(bare, 'ipv4');
  if (family !== 6) return false;
  const dotted = MAPPED_V4.exec(bare);
  if (dotted?.[1]) return isPublicAddress(dotted[1]);
  const hex = MAPPED_V4_HEX.exec(bare);
  if (hex?.[1] && hex[2]) {
    const [hi, lo] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
    return isPublicAddress(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  return !blocked.check(bare, 'ipv6');
}

export type UrlVerdict = { ok: true } | { ok: false; reason: string };

/** Checks where a URL's host resolves now: every address must be public (registration time). */
export async function checkUrlTarget(url: URL, allowPrivate: boolean): Promise<UrlVerdict> {
  if (allowPrivate) return { ok: true };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isPublicAddress(host) ? { ok: true } : { ok: false, reason: `${host} is not a public address` };
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true, verbatim: true });
  } catch {
    return { ok: false, reason: `${host} does not resolve` };
  }
  const bad = addresses.find((a) => !isPublicAddress(a.address));
  return bad ? { ok: false, reason: `${host} resolves to ${bad.address}, which is not a public address` } : { ok: true };
}

/**
 * The DNS lookup a delivery's socket uses: it refuses private answers at connect time, so a name
 * that resolved to a public address at registration and to an internal one now (DNS rebinding)
 * is caught at the moment it matters, with no gap between the check and the connection.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookupCallback(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as { address: string; family: number }[];
      const allowed = allowPrivate ? list : list.filter((a) => isPublicAddress(a.address));
      if (allowed.length === 0) {
        const refused = Object.assign(new Error(`${hostname} resolves to no public address`), { code: 'WEBHOOK_URL_NOT_ALLOWED' });
        return callback(refused, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: typeof allowed) => void)(null, allowed);
      const first = allowed[0] as { address: string; family: number };
      callback(null, first.address, first.family);
    });
  };
}
