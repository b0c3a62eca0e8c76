// The pure parts of the informer: line splitting, the relist diff, the watch query, the retry decisions.
import { describe, it, expect } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { errForLog, errorReason, failuresAfterWatch } from '../../src/runtime/list-watch-retry.ts';
import { propertyOf } from '../../src/runtime/narrow.ts';
import { storeChanges } from '../../src/runtime/store-diff.ts';
import { watchError } from '../../src/runtime/watch-event.ts';
import { LineSplitter } from '../../src/runtime/watch-lines.ts';
import { watchQuery } from '../../src/runtime/watch-request.ts';

describe('LineSplitter', () => {
  it.each([
    { name: 'one line per chunk', chunks: ['a\n', 'b\n'], want: [['a'], ['b']] },
    { name: 'a line across chunks', chunks: ['{"a":', '1}', '\n'], want: [[], [], ['{"a":1}']] },
    { name: 'two lines in one chunk, the rest kept', chunks: ['a\nb\nc', 'd\n'], want: [['a', 'b'], ['cd']] },
    { name: 'blank lines left out', chunks: ['\n  \na\n'], want: [['a']] },
    { name: 'no newline yet', chunks: ['abc'], want: [[]] },
  ])('$name', ({ chunks, want }) => {
    const s = new LineSplitter();
    expect(chunks.map((c) => s.push(c))).toEqual(want);
  });
});

describe('storeChanges', () => {
  const o = (name: string, rv: string): k8s.KubernetesObject => ({ metadata: { name, resourceVersion: rv } });
  const m = (...xs: k8s.KubernetesObject[]): Map<string, k8s.KubernetesObject> =>
    new Map(xs.map((x) => [x.metadata?.name ?? '', x]));
  it.each([
    { name: 'first list: all adds', old: m(), fresh: m(o('a', '1'), o('b', '1')), want: ['add a', 'add b'] },
    { name: 'unchanged resourceVersion: nothing', old: m(o('a', '1')), fresh: m(o('a', '1')), want: [] },
    { name: 'changed resourceVersion: update', old: m(o('a', '1')), fresh: m(o('a', '2')), want: ['update a'] },
    {
      name: 'gone: delete, after adds and updates',
      old: m(o('a', '1'), o('b', '1')),
      fresh: m(o('c', '1'), o('a', '2')),
      want: ['add c', 'update a', 'delete b'],
    },
  ])('$name', ({ old, fresh, want }) => {
    expect(storeChanges(old, fresh).map((c) => `${c.type} ${c.obj.metadata?.name ?? ''}`)).toEqual(want);
  });
});

describe('watchQuery', () => {
  it.each([
    {
      name: 'no selectors, no resourceVersion',
      r: { path: '/x', resourceVersion: '' },
      want: 'watch=true&allowWatchBookmarks=true&timeoutSeconds=300',
    },
    {
      name: 'from a resourceVersion with selectors',
      r: { path: '/x', resourceVersion: '42', labelSelector: 'a=b', fieldSelector: 'c=d' },
      want: 'watch=true&allowWatchBookmarks=true&resourceVersion=42&timeoutSeconds=300&labelSelector=a%3Db&fieldSelector=c%3Dd',
    },
  ])('$name', ({ r, want }) => expect(watchQuery(r, 300).toString()).toBe(want));
});

describe('failuresAfterWatch', () => {
  it.each([
    { name: 'events reset the count', failures: 3, outcome: 'closed' as const, events: 1, want: 0 },
    { name: 'gone resets the count', failures: 3, outcome: 'gone' as const, events: 0, want: 0 },
    { name: 'an empty close is a failure', failures: 3, outcome: 'closed' as const, events: 0, want: 4 },
    { name: 'an empty timeout keeps the count', failures: 3, outcome: 'timeout' as const, events: 0, want: 3 },
  ])('$name', ({ failures, outcome, events, want }) =>
    expect(failuresAfterWatch(failures, outcome, events)).toBe(want),
  );
});

describe('errorReason and errForLog', () => {
  const refused = Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
  it.each([
    { name: 'HTTP 503', err: new k8s.ApiException(503, 'x', '{}', {}), want: 'http_5xx' },
    { name: 'HTTP 403', err: new k8s.ApiException(403, 'x', '{}', {}), want: 'http_4xx' },
    { name: 'a connection error', err: refused, want: 'connection_error' },
  ])('$name', ({ err, want }) => expect(errorReason(err)).toBe(want));
  it('keeps the cause code of a fetch failure', () =>
    expect(errForLog(refused)).toEqual({ message: 'fetch failed', code: 'ECONNREFUSED' }));
});

describe('watchError', () => {
  it('410 asks for a relist', () => expect(watchError({ code: 410 })).toBe('gone'));
  it('anything else fails the watch with its code', () => {
    expect(() => watchError({ code: 500, reason: 'InternalError', message: 'boom' })).toThrow(
      /watch error: InternalError boom/,
    );
  });
});

describe('propertyOf', () => {
  it.each([
    { name: 'an object field', v: { a: 1 }, want: 1 },
    { name: 'a missing field', v: {}, want: undefined },
    { name: 'null', v: null, want: undefined },
    { name: 'a string', v: 'a', want: undefined },
  ])('$name', ({ v, want }) => expect(propertyOf(v, 'a')).toBe(want));
});
