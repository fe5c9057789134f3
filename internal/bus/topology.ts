/**
 * The one module that knows stream, consumer and subject names. Every name derives from a prefix so
 * test runs and several deployments can share a NATS server without colliding.
 */
export interface Topology {
  prefix: string;
  streams: { work: string; events: string; dlq: string };
  subjects: {
    /** Accepted notifications waiting to be planned into deliveries. */
    requests: string;
    /** One message per delivery, per channel. */
    deliver(channel: string): string;
    /**
     * Deliveries for one channel published together, many per message (a JSON array of delivery
     * messages: internal/delivery/chunks.ts). Its own consumer, whose loop counts deliveries.
     */
    deliverChunks(channel: string): string;
    /** The channel a deliver or deliver-chunks subject is for, or undefined for any other subject. */
    channelOf(subject: string): string | undefined;
    deliverAll: string;
    /** Site events (user_registered, review_liked...). */
    event(type: string): string;
    eventsAll: string;
    /** Outbox-delayed "an aggregation window is due" messages to the event router (inside eventsAll). */
    aggregateDue: string;
    /** Dead letters, per channel or source. */
    dlq(source: string): string;
    dlqAll: string;
    /** Core NATS: wake the relay right after a commit. */
    relayKick: string;
    /** Core NATS: in-app notifications for one user's open connections. */
    wsUser(userId: string): string;
    /** Core NATS: campaign control (rate changes, pause) reach running fan-outs at once. */
    campaignControl: string;
    /** Core NATS: a setting changed; every node drops its settings cache. */
    settingsChanged: string;
  };
  consumers: { planner: string; deliver(channel: string): string; deliverChunks(channel: string): string; events: string };
}

export function createTopology(prefix: string): Topology {
  const p = prefix;
  const P = prefix.toUpperCase();
  const deliverPrefix = `${p}.deliver.`;
  return {
    prefix,
    streams: { work: `${P}_WORK`, events: `${P}_EVENTS`, dlq: `${P}_DLQ` },
    subjects: {
      requests: `${p}.requests`,
      deliver: (channel) => `${deliverPrefix}${channel}`,
      deliverChunks: (channel) => `${deliverPrefix}${channel}.chunks`,
      channelOf: (subject) => (subject.startsWith(deliverPrefix) ? subject.slice(deliverPrefix.length).replace(/\.chunks$/, "") : undefined),
      deliverAll: `${p}.deliver.>`,
      event: (type) => `${p}.events.${type}`,
      eventsAll: `${p}.events.>`,
      aggregateDue: `${p}.events._aggregate_due`,
      dlq: (source) => `${p}.dlq.${source}`,
      dlqAll: `${p}.dlq.>`,
      relayKick: `${p}.kick.relay`,
      wsUser: (userId) => `${p}.ws.user.${userId}`,
      campaignControl: `${p}.campaign.control`,
      settingsChanged: `${p}.settings.changed`,
    },
    consumers: {
      planner: "planner",
      deliver: (channel) => `deliver-${channel}`,
      deliverChunks: (channel) => `deliver-${channel}-chunks`,
      events: "event-router",
    },
  };
}
