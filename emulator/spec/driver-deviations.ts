// Tests the `mongodb` 6.x driver itself cannot pass against any server, because what it sends
// differs from what the test expects. They are reported as skipped with the reason; they say
// nothing about the server under test. Each entry was checked against the driver's source in
// node_modules/mongodb (the file is named), and the driver's own test suite skips them too.

interface Deviation {
  file: string;
  tests: string[];
  reason: string;
}

const DEVIATIONS: Deviation[] = [
  {
    file: 'crud/create-null-ids.json',
    tests: [
      'inserting _id with type null via insertOne',
      'inserting _id with type null via insertMany',
      'inserting _id with type null via bulkWrite',
      'inserting _id with type null via clientBulkWrite',
    ],
    reason: 'the driver replaces a null _id with a new ObjectId before sending (lib/utils.js maybeAddIdToDocuments: `_id == null`; NODE-6468)',
  },
  {
    file: 'crud/bypassDocumentValidation.json',
    tests: [
      'Aggregate with $out passes bypassDocumentValidation: false',
      'BulkWrite passes bypassDocumentValidation: false',
      'FindOneAndReplace passes bypassDocumentValidation: false',
      'FindOneAndUpdate passes bypassDocumentValidation: false',
      'InsertMany passes bypassDocumentValidation: false',
    ],
    reason:
      'the driver sends bypassDocumentValidation only when true for aggregate, findAndModify and bulk writes (lib/operations/aggregate.js, find_and_modify.js, bulk/common.js; NODE-6484)',
  },
];

/** Why the driver cannot pass this test, or undefined. `rel` is relative to the spec folder. */
export function driverDeviation(rel: string, description: string): string | undefined {
  const d = DEVIATIONS.find((x) => x.file === rel && x.tests.includes(description));
  return d ? `driver deviation: ${d.reason}` : undefined;
}
