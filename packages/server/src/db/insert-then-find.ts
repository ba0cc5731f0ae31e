/**
 * Inserts a row unless it exists (`insert`: ON CONFLICT DO NOTHING), then reads
 * it (`find`, which takes the row's lock on PostgreSQL). A delete that held the
 * row when the insert found it present can commit before the read's lock is
 * granted, leaving nothing to find: the insert is then tried again, three
 * times at most. Null when the row is still gone; the caller refuses the call.
 */
export async function insertThenFind<T>(insert: () => Promise<unknown>, find: () => Promise<T | null | undefined>): Promise<T | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    await insert();
    const row = await find();
    if (row) return row;
  }
  return null;
}
