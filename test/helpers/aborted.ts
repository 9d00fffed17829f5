// Events written inside Kafka transactions that abort: what a READ_COMMITTED reader must never see.
import type { Config } from '../../lib/config.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import { createTransactionalProducer } from '../../lib/kafka-txn.js';
import { uniqueName } from './names.js';

export interface AbortedEvent {
  id: string;
  data: unknown;
}

/**
 * Writes each batch of events of `type` (schema `version`) to `events.<type>`/`partition` in a
 * transaction of its own, all of one producer, and aborts every one of them.
 */
export async function produceAborted(
  config: Config,
  target: { type: string; version: number; partition: number },
  batches: AbortedEvent[][],
): Promise<void> {
  const { type, version, partition } = target;
  const producer = createTransactionalProducer(config, uniqueName('test.abort'));
  try {
    for (const batch of batches) {
      const tx = await producer.beginTransaction();
      await tx.send({
        messages: batch.map((e) => ({
          topic: `events.${type}`,
          partition,
          value: Buffer.from(JSON.stringify(e.data)),
          headers: envelopeHeaders(
            buildEnvelope(
              { type, dataschema: `urn:sluice:schema:${type}:v${version}`, id: e.id },
              new Date(),
              '/test',
            ),
          ),
        })),
      });
      await tx.abort();
    }
  } finally {
    await producer.close();
  }
}
