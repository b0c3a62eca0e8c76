// Condition and Event reasons, in one place: they are part of the user-facing contract
// (alerts and `kubectl wait` read them), so they never change once released.
export const Reason = {
  AuthorityNotFound: 'AuthorityNotFound',
  AuthorityNotAllowed: 'AuthorityNotAllowed',
  InvalidSpec: 'InvalidSpec',
  Pending: 'Pending',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
