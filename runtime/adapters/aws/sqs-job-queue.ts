import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { JobQueue, ReceivedJob } from '../../ports/job-queue.ts';
import { JobMessage } from '../../runs/schema.ts';

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
    return (out.Messages ?? []).map((m) => ({
      job: JobMessage.parse(JSON.parse(m.Body ?? 'null')),
      receipt: m.ReceiptHandle ?? '',
      receives: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
    }));
  }

  async delete(receipt: string): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receipt }));
  }
}
