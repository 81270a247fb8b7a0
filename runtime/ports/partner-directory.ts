import type { PartnerDirectoryDoc } from '../partners/credentials.ts';

/**
 * Where partners, their keys and scopes live: Secrets Manager on AWS, a file locally. The API reads it on
 * every request through a short cache; the command line changes it.
 */
export interface PartnerDirectory {
  read(): Promise<PartnerDirectoryDoc>;
  /** Reads the document, applies `change`, writes the result back and returns it. */
  update(change: (doc: PartnerDirectoryDoc) => PartnerDirectoryDoc): Promise<PartnerDirectoryDoc>;
  /** Where it is kept, for messages. */
  readonly where: string;
}
