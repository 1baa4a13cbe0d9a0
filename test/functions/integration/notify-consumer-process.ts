import { type NotifyConsumerSettings, notifyConsumer } from './notify-consumer.ts';

/**
 * A fresh notify handler in a process of its own, as a new Lambda instance is: nothing in memory
 * from any other consumer, only the queue and the delivery log they share. Run by
 * notify-takeover.test.ts with `node --import tsx`, its settings as JSON in
 * `FAULTLINE_TEST_NOTIFY_CONSUMER`; it consumes until the queue holds nothing, then prints what it
 * did as one JSON line (`ConsumerSummary`) and exits.
 */
const settings = JSON.parse(process.env.FAULTLINE_TEST_NOTIFY_CONSUMER ?? '') as NotifyConsumerSettings;
const consumer = notifyConsumer(settings);
try {
  await consumer.drain();
  process.stdout.write(`${JSON.stringify(consumer.summary)}\n`);
} finally {
  consumer.close();
}
