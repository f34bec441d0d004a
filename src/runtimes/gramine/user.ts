/**
 * Image `User` -> numeric uid/gid, as a container runtime resolves it (runc / moby/sys/user):
 * "" -> 0:0; "name" or "uid" -> the passwd entry's uid and primary gid (a numeric uid absent from
 * /etc/passwd gets gid 0); "user:group" with either part a name or a number, the group looked up
 * in /etc/group. Files are read from the image root (symlinks followed inside it), never the host.
 */
import { CconvError } from '../../errors.ts';
import type { Rootfs } from '../../rootfs/types.ts';

/** A resolved user. `home` is the passwd home directory when the user is listed there. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  home?: string;
}

const MAX_DB_BYTES = 4 << 20;
const NUMERIC = /^[0-9]+$/;
const MAX_ID = 2 ** 32 - 2;

interface DbLine {
  name: string;
  id: number;
  gid?: number;
  home?: string;
}

function parseDb(text: string, kind: 'passwd' | 'group'): DbLine[] {
  const out: DbLine[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || !NUMERIC.test(f[2] ?? '')) continue; // malformed lines are skipped, as libc does
    const entry: DbLine = { name: f[0]!, id: Number(f[2]) };
    if (kind === 'passwd') {
      if (NUMERIC.test(f[3] ?? '')) entry.gid = Number(f[3]);
      if (f[5] !== undefined && f[5] !== '') entry.home = f[5];
    }
    out.push(entry);
  }
  return out;
}

async function readDb(rootfs: Rootfs, kind: 'passwd' | 'group'): Promise<DbLine[] | undefined> {
  const buf = await rootfs.readFile(`etc/${kind}`, MAX_DB_BYTES);
  return buf === undefined ? undefined : parseDb(buf.toString('utf8'), kind);
}

function notFound(what: string, user: string, file: string): CconvError {
  return new CconvError('E_CONFIG', `image config User ${JSON.stringify(user)}: ${what} not found in the image's /etc/${file}`, {
    hint: 'use a numeric uid:gid, or add the user to the image',
  });
}

function checkId(n: number, user: string): number {
  if (n > MAX_ID) throw new CconvError('E_CONFIG', `image config User ${JSON.stringify(user)}: id ${n} out of range`);
  return n;
}

/** Resolves the image config's `User` against the image root. Throws E_CONFIG. */
export async function resolveUser(rootfs: Rootfs, userSpec: string | undefined): Promise<ResolvedUser> {
  const spec = (userSpec ?? '').trim();
  if (spec === '') {
    const passwd = await readDb(rootfs, 'passwd');
    const root = passwd?.find((e) => e.id === 0);
    return root?.home === undefined ? { uid: 0, gid: 0 } : { uid: 0, gid: 0, home: root.home };
  }
  const colon = spec.indexOf(':');
  const userPart = colon < 0 ? spec : spec.slice(0, colon);
  const groupPart = colon < 0 ? undefined : spec.slice(colon + 1);
  if (userPart === '' || groupPart === '') {
    throw new CconvError('E_CONFIG', `image config User ${JSON.stringify(spec)} is malformed`, { hint: 'expected user, uid, user:group or uid:gid' });
  }

  const passwd = await readDb(rootfs, 'passwd');
  let uid: number;
  let gid = 0;
  let home: string | undefined;
  const byName = passwd?.find((e) => e.name === userPart);
  if (NUMERIC.test(userPart)) {
    uid = checkId(Number(userPart), spec);
    const known = passwd?.find((e) => e.id === uid);
    if (known !== undefined) {
      gid = known.gid ?? 0;
      home = known.home;
    }
  } else if (byName !== undefined) {
    uid = byName.id;
    gid = byName.gid ?? 0;
    home = byName.home;
  } else {
    throw notFound(`user ${JSON.stringify(userPart)}`, spec, 'passwd');
  }

  if (groupPart !== undefined) {
    if (NUMERIC.test(groupPart)) {
      gid = checkId(Number(groupPart), spec);
    } else {
      const group = (await readDb(rootfs, 'group'))?.find((e) => e.name === groupPart);
      if (group === undefined) throw notFound(`group ${JSON.stringify(groupPart)}`, spec, 'group');
      gid = group.id;
    }
  }
  return home === undefined ? { uid, gid } : { uid, gid, home };
}
