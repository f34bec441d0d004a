/**
 * The fuzz test's tar encoder: ustar, PAX and GNU long-name members written block by block with
 * rawHeader (not with tar-stream, whose own checks would hide what the reader must refuse), and
 * hostile NULs inside PAX records.
 */
import { padBlocks, rawHeader } from './tar.ts';

/** One tar member as the fuzz test generates it. `name` and `link` are stored as given. */
export interface Member {
  kind: 'file' | 'dir' | 'symlink' | 'hardlink';
  name: string;
  link?: string;
  content?: Buffer;
  mode: number;
  enc: 'ustar' | 'pax' | 'gnu';
  /** Put a NUL in this PAX record's value (hostile; forces PAX). */
  nul?: 'path' | 'linkpath';
}

const TYPEFLAG = { file: '0', dir: '5', symlink: '2', hardlink: '1' } as const;

/** One PAX record, `LEN KEY=VALUE\n`, LEN counting itself. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** The first bytes of `s` that fit a 100-byte header field, without splitting a character. */
function fit100(s: string): string {
  let out = s.slice(0, 100);
  while (Buffer.byteLength(out) > 100) out = out.slice(0, -1);
  return out;
}

/** Encodes one member: its extended headers, header block and padded content. */
export function encodeMember(m: Member): Buffer {
  const data = m.kind === 'file' ? m.content ?? Buffer.alloc(0) : Buffer.alloc(0);
  const link = m.link ?? '';
  const long = Buffer.byteLength(m.name) > 100 || Buffer.byteLength(link) > 100;
  const enc = m.nul ? 'pax' : long && m.enc === 'ustar' ? 'pax' : m.enc;
  const parts: Buffer[] = [];
  const header = { name: fit100(m.name), typeflag: TYPEFLAG[m.kind], size: data.length, mode: m.mode, linkname: fit100(link) };
  if (enc === 'pax') {
    const records = [paxRecord('path', Buffer.from(m.nul === 'path' ? `${m.name}\0x` : m.name))];
    if (m.link !== undefined) records.push(paxRecord('linkpath', Buffer.from(m.nul === 'linkpath' ? `${link}\0x` : link)));
    const body = Buffer.concat(records);
    parts.push(rawHeader({ name: 'PaxHeaders/x', typeflag: 'x', size: body.length }), padBlocks(body));
    header.name = 'PaxHeaders/placeholder'; // the PAX path must win
  } else if (enc === 'gnu') {
    for (const [flag, value] of [['L', m.name], ['K', m.link]] as const) {
      if (value === undefined) continue;
      const v = Buffer.from(`${value}\0`);
      parts.push(rawHeader({ name: '././@LongLink', typeflag: flag, size: v.length, gnu: true }), padBlocks(v));
    }
  }
  parts.push(rawHeader({ ...header, gnu: enc === 'gnu' }));
  if (data.length > 0) parts.push(padBlocks(data));
  return Buffer.concat(parts);
}
