// The reasons module and the API reference's Reasons section generated from it.
import { describe, it, expect } from '@jest/globals';
import * as reasons from '../../src/crds/reasons.ts';
import { IssuerReason, IssuerReasonHelp } from '../../src/crds/reasons.ts';
import { REASON_GROUPS, reasonRows, renderReasons } from '../../src/crds/reasons-reference.ts';

/** The exported reason groups: objects of strings whose name does not end in Help. */
const groups = Object.entries(reasons).filter(
  ([name, v]) =>
    !name.endsWith('Help') &&
    typeof v === 'object' &&
    v !== null &&
    Object.values(v).every((x) => typeof x === 'string'),
);

describe('reasons', () => {
  it('IssuerReason: every constant is its own name and has a text saying what to do', () => {
    for (const [key, value] of Object.entries(IssuerReason)) {
      expect(value).toBe(key);
      expect(IssuerReasonHelp[key as IssuerReason].length).toBeGreaterThan(20);
    }
  });

  it('every group of src/crds/reasons.ts is in the API reference', () => {
    expect(groups.map(([name]) => name).sort()).toEqual(REASON_GROUPS.map((g) => g.name).sort());
  });

  it.each(REASON_GROUPS.map((g) => [g.name, g] as const))(
    '%s: its texts name only its reasons, and every reason is listed',
    (_name, g) => {
      for (const key of Object.keys(g.help)) expect(Object.keys(g.values)).toContain(key);
      const section = renderReasons([g]);
      for (const value of Object.values(g.values)) expect(section).toContain(`| \`${value}\` |`);
    },
  );

  it.each<[string, Record<string, string>, Record<string, string | undefined>, string[]]>([
    ['a reason with its text', { A: 'A' }, { A: 'does a' }, ['| `A` | does a |']],
    ['a reason without one', { B: 'B' }, {}, ['| `B` |  |']],
    ['pipes and newlines in a text', { C: 'C' }, { C: 'a | b\nc' }, ['| `C` | a \\| b c |']],
    ['an alias shows its value', { D: 'Other' }, { D: 'x' }, ['| `Other` | x |']],
  ])('reasonRows: %s', (_what, values, help, rows) => {
    expect(reasonRows({ name: 'G', use: '', values, help })).toEqual(rows);
  });
});
