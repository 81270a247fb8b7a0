import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { JobMessage, type JobQueue, type ReceivedJob } from '../../ports/job-queue.ts';

/** The job queue on SQS. The run id rides as a message attribute too, for logs and DLQ triage. */
export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient = new SQSClient({}),
  ) {}

  async send(job: JobMessage, options: { delaySeconds?: number } = {}): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        ...(options.delaySeconds ? { DelaySeconds: Math.min(900, options.delaySeconds) } : {}),
        MessageBody: JSON.stringify(job),
        MessageAttributes: { runId: { DataType: 'String', StringValue: job.runId } },
      }),
    );
  }

  /** Messages that are not jobs are left alone: after maxReceiveCount the dead-letter queue takes them. */
  async receive(max: number, visibilitySeconds: number): Promise<ReceivedJob[]> {
    const out = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        VisibilityTimeout: visibilitySeconds,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    const jobs: ReceivedJob[] = [];
    for (const m of out.Messages ?? []) {
      let body: unknown;
      try {
        body = JSON.parse(m.Body ?? 'null');
      } catch {
        continue;
      }
      const parsed = JobMessage.safeParse(body);
      if (!parsed.success) continue;
      jobs.push({
        job: parsed.data,
        receipt: m.ReceiptHandle ?? '',
        receives: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
      });
    }
    return jobs;
  }

  async delete(receipt: string): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receipt }));
  }

  async extend(receipt: string, visibilitySeconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receipt,
        // SQS's limit: 12 hours.
        VisibilityTimeout: Math.min(43_200, Math.max(0, Math.round(visibilitySeconds))),
      }),
    );
  }

  async depth(): Promise<number> {
    const out = await this.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    const a = out.Attributes ?? {};
    return (
      Number(a.ApproximateNumberOfMessages ?? 0) +
      Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(a.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  }
}
