/**
 * `WWW-Authenticate` challenges (RFC 7235) as registries send them:
 * `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`
 * or `Basic realm="Registry Realm"`. Several challenges may share one header.
 */

/** One challenge; `scheme` is lowercased, parameter names too. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Parses a `WWW-Authenticate` header value into its challenges; malformed tails are ignored. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let s = header;
  const skip = (re: RegExp): void => {
    s = s.replace(re, '');
  };
  for (;;) {
    skip(/^[\s,]+/);
    const scheme = TOKEN.exec(s);
    if (scheme === null) return out;
    s = s.slice(scheme[0].length);
    const challenge: Challenge = { scheme: scheme[0].toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      skip(/^[\s,]+/);
      const name = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*/.exec(s);
      if (name === null) break; // next challenge (or token68 / end)
      s = s.slice(name[0].length);
      let value: string;
      if (s.startsWith('"')) {
        let i = 1;
        value = '';
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        s = s.slice(i + 1);
      } else {
        const bare = /^[^\s,]*/.exec(s)![0];
        value = bare;
        s = s.slice(bare.length);
      }
      challenge.params[name[1]!.toLowerCase()] = value;
    }
  }
}

/** The first Bearer challenge, else the first Basic one, else undefined. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
