/**
 * Where `POST /endpoints` may point. Registration makes the runtime connect to any address a
 * caller names; on AWS that includes the instance metadata service (169.254.169.254,
 * fd00:ec2::254), which hands out credentials. Such targets are refused before any connection,
 * by literal address and by what a host name resolves to, unless the operator opts in.
 * Loopback and private ranges stay allowed: local endpoints live there.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import type { EndpointRequest, EndpointResponse, EndpointTransport } from './types.js';

export interface AddressPolicy {
  /** Allow link-local and instance-metadata targets (RESTLESS_ALLOW_LINK_LOCAL_ENDPOINTS). */
  allowLinkLocal: boolean;
  /** Every address a host name resolves to; default the system resolver (what connecting uses). */
  resolve?: (host: string) => Promise<string[]>;
}

const systemResolve = (host: string): Promise<string[]> => lookup(host, { all: true, verbatim: true }).then((all) => all.map((a) => a.address));

/** Admin API code shared with discovery failures ("cannot use this endpoint"). */
const RESTATE_CODE = 'META0003';

function blockList(entries: [address: string, prefix: number, family: 'ipv4' | 'ipv6'][]): BlockList {
  const list = new BlockList();
  for (const [address, prefix, family] of entries) list.addSubnet(address, prefix, family);
  return list;
}

/** The rules, each named as the error message names it. IPv4 rules also match IPv4-mapped IPv6 (::ffff:a.b.c.d). */
const RULES: { rule: string; list: BlockList }[] = [
  {
    rule: 'link-local 169.254.0.0/16 (instance metadata)',
    list: blockList([
      ['169.254.0.0', 16, 'ipv4'],
      ['64:ff9b::a9fe:0', 112, 'ipv6'],
    ]),
  },
  { rule: 'link-local fe80::/10', list: blockList([['fe80::', 10, 'ipv6']]) },
  { rule: 'the instance metadata address fd00:ec2::254', list: blockList([['fd00:ec2::254', 128, 'ipv6']]) },
];

/** The rule an IP address breaks, or undefined when it may be used. */
export function forbiddenRule(ip: string): string | undefined {
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  return RULES.find(({ list }) => list.check(ip, family))?.rule;
}

/** An endpoint address the policy refuses; 400 on the admin API. */
export class ForbiddenEndpointAddressError extends InvalidArgumentError {
  constructor(host: string, ip: string, rule: string) {
    const via = host === ip ? `${ip}` : `${host} (resolves to ${ip})`;
    super(
      `The endpoint address ${via} is refused: ${rule} is not a place for service endpoints. Set RESTLESS_ALLOW_LINK_LOCAL_ENDPOINTS=true (local runner: --allow-link-local-endpoints) if it really is one.`,
      { restateCode: RESTATE_CODE },
    );
  }
}

/**
 * Checks the host of an `http(s)://` URI: a literal IP directly, a name by every address it
 * resolves to. A name that does not resolve passes (connecting to it fails on its own).
 */
export async function checkEndpointUri(uri: string, policy: AddressPolicy): Promise<void> {
  if (policy.allowLinkLocal) return;
  const host = new URL(uri).hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : await (policy.resolve ?? systemResolve)(host).catch(() => []);
  for (const ip of addresses) {
    const rule = forbiddenRule(ip);
    if (rule) throw new ForbiddenEndpointAddressError(host, ip, rule);
  }
}

/** How long a passed check is trusted before the host is resolved again (DNS may change). */
const RECHECK_AFTER_MS = 60_000;

/** An `http(s)://` endpoint's transport that checks the address before it connects. */
export class GuardedTransport implements EndpointTransport {
  private checkedAt = -Infinity;

  constructor(
    private readonly inner: EndpointTransport,
    private readonly uri: string,
    private readonly policy: AddressPolicy,
  ) {}

  async call(req: EndpointRequest): Promise<EndpointResponse> {
    if (Date.now() - this.checkedAt > RECHECK_AFTER_MS) {
      await checkEndpointUri(this.uri, this.policy);
      this.checkedAt = Date.now();
    }
    return this.inner.call(req);
  }
}
