/** What the planner asks before creating a delivery: may this recipient get this on this channel? */
export interface PlanInput {
  notificationId: string;
  category: string;
  senderId: string;
  templateKey: string;
  /** user ids among the recipients */
  userIds: string[];
  /** bare email addresses among the recipients (no preferences, but they can be suppressed) */
  addresses?: string[];
  channels: string[];
}

export type Decision =
  | { kind: "deliver" }
  | { kind: "skip"; reason: string }
  /** Deliver later (quiet hours). */
  | { kind: "hold"; until: Date };

export interface PlanPolicy {
  /** Returns a decision per `${userId}\u0000${channel}`; missing entries mean deliver. */
  decide(input: PlanInput): Promise<Map<string, Decision>>;
}

export const decisionKey = (userId: string, channel: string) => `${userId}\u0000${channel}`;
/** The key of a bare address; "<" cannot occur in a user id, so the two never collide. */
export const addressDecisionKey = (address: string, channel: string) => decisionKey(`<${address}>`, channel);

/** Everyone gets everything: the policy before preferences exist, and for bare addresses. */
export const allowAll: PlanPolicy = { decide: async () => new Map() };

/** Runs policies in order; the first that does not say "deliver" wins. */
export function combinePolicies(...policies: PlanPolicy[]): PlanPolicy {
  return {
    async decide(input) {
      const out = new Map<string, Decision>();
      for (const p of policies) {
        for (const [k, d] of await p.decide(input)) {
          if (d.kind !== "deliver" && !out.has(k)) out.set(k, d);
        }
      }
      return out;
    },
  };
}
