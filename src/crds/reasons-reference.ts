// The "Reasons" section of docs/api-reference.md, generated from src/crds/reasons.ts: every reason
// constant, the condition, Event or refusal it appears in, and its text (kept as data there).
import {
  IssuanceReason,
  IssuanceReasonHelp,
  AdmissionReason,
  AdmissionReasonHelp,
  BindingReason,
  BindingReasonHelp,
  IssuerReason,
  IssuerReasonHelp,
  OwnershipRule,
  OwnershipRuleHelp,
  PolicyReason,
  PolicyReasonHelp,
  Reason,
  ReasonHelp,
  SignerReason,
  SignerReasonHelp,
  SignReason,
  SignReasonHelp,
  ServedReason,
  ServedReasonHelp,
  AnomalyReason,
  AnomalyReasonHelp,
} from './reasons.ts';

interface ReasonGroup {
  /** The exported constant in src/crds/reasons.ts. */
  name: string;
  /** Where its reasons appear. */
  use: string;
  values: Readonly<Record<string, string>>;
  help: Readonly<Record<string, string | undefined>>;
}

export const REASON_GROUPS: readonly ReasonGroup[] = [
  {
    name: 'Reason',
    use: "MachineIdentity conditions (`Ready`, `Issuing`, `PolicyCompliant`) and the identity's Events.",
    values: Reason,
    help: ReasonHelp,
  },
  {
    name: 'OwnershipRule',
    use: 'The safe defaults of src/policy/ownership.ts: denials that hold with no IssuancePolicy at all (MachineIdentity `Ready=False`, signer denials).',
    values: OwnershipRule,
    help: OwnershipRuleHelp,
  },
  {
    name: 'BindingReason',
    use: "CertificateAuthorityBinding `Ready` condition and the binding's Events.",
    values: BindingReason,
    help: BindingReasonHelp,
  },
  {
    name: 'IssuerReason',
    use: "What a CA backend answers. On a CertificateAuthorityBinding it is the `Ready` reason when the backend cannot be built or its health check fails. On a MachineIdentity the condition reason is `Denied` (the CA refused: not retried) or `Failed` (no answer: retried with backoff), and the backend's reason starts the `Issuing` message and the Event's message; a PodCertificateRequest carries it as its condition reason. The kubernetes backend shows the approver's or signer's own reason when the CSR's condition carries one.",
    values: IssuerReason,
    help: IssuerReasonHelp,
  },
  {
    name: 'PolicyReason',
    use: 'IssuancePolicy `Ready` condition (the policy status controller).',
    values: PolicyReason,
    help: PolicyReasonHelp,
  },
  {
    name: 'AdmissionReason',
    use: 'The admission webhook: the metav1.Status reason of a refused `kubectl apply` of a MachineIdentity.',
    values: AdmissionReason,
    help: AdmissionReasonHelp,
  },
  {
    name: 'IssuanceReason',
    use: 'The issuance controller: Issuing/Ready reasons and Events that are not about the spec (keystore password, CA answers, revocation on deletion).',
    values: IssuanceReason,
    help: IssuanceReasonHelp,
  },
  {
    name: 'SignReason',
    use: 'Refusals of the in-process signer (ca and selfSigned backends), shown like IssuerReason on the MachineIdentity.',
    values: SignReason,
    help: SignReasonHelp,
  },
  {
    name: 'SignerReason',
    use: 'The Kubernetes signers: PodCertificateRequest and CertificateSigningRequest conditions and their Events.',
    values: SignerReason,
    help: SignerReasonHelp,
  },
  {
    name: 'ServedReason',
    use: 'MachineIdentity `Served` condition (the validation controller: is the current certificate the one being served?) and its Events.',
    values: ServedReason,
    help: ServedReasonHelp,
  },
  {
    name: 'AnomalyReason',
    use: 'Anomalies found by the inventory and the validation probes: a Warning Event on the object, `machine_identity_anomalies`, `kubectl mi inventory`. Muted per namespace by the annotation `machineidentity.io/mute-anomalies`.',
    values: AnomalyReason,
    help: AnomalyReasonHelp,
  },
];

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** One group's table: reason value, text (empty when the reasons module has none for it). */
export function reasonRows(g: ReasonGroup): string[] {
  return Object.entries(g.values).map(([key, value]) => `| \`${value}\` | ${cell(g.help[key] ?? '')} |`);
}

export function renderReasons(groups: readonly ReasonGroup[] = REASON_GROUPS): string {
  const out = [
    '## Reasons',
    '',
    'Every condition, Event and refusal reason the operator writes, generated from `src/crds/reasons.ts`. Reasons are',
    'part of the API: alerts and `kubectl wait` read them, and they do not change once released. A reason may appear',
    'in more than one group (the same word in another condition).',
    '',
  ];
  for (const g of groups) {
    out.push(`### ${g.name}`, '', g.use, '', '| Reason | Meaning |', '|---|---|', ...reasonRows(g), '');
  }
  return out.join('\n');
}
