// Time-window admissions: how many new users per second a cluster can admit to one task.
// Three AdmissionCache instances (three nodes' worth of caches) on one database, 90 callers,
// 20,000 distinct users against a task with room for all of them; prints admissions per second
// and checks the counter and the rows agree.
// Usage: npx tsx bench/admissions.ts [--users 20000] [--callers 90]   (DATABASE_URL=... for PostgreSQL)
export {};
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const USERS = arg('users', 20_000);
const CALLERS = arg('callers', 90);
if (process.env.DATABASE_URL) {
  // the test helpers pick the database from these
  process.env.MCUBE_TEST_DB = 'postgres';
  process.env.MCUBE_TEST_DATABASE_URL = process.env.DATABASE_URL;
}
const { startTestServer } = await import('../test/helpers/server.js');
const { insertResource, insertTask } = await import('../test/helpers/delivery-fixtures.js');
const { AdmissionCache } = await import('../packages/server/src/features/delivery/admissions.js');

const srv = await startTestServer();
try {
  const { deps } = srv.node;
  const knex = deps.db.knex;
  const end = Date.now() + 3_600_000;
  const r = await insertResource(knex, { h5_id: '55559999', h5_version: '1.0' });
  const task = await insertTask(knex, r, { publish_type: 2, publish_mode: 2, grey_num: USERS, grey_endtime: end });
  const plan = { id: task.id, greyNum: USERS, endTime: end } as Parameters<InstanceType<typeof AdmissionCache>['admit']>[0];
  const caches = [0, 1, 2].map(() => new AdmissionCache(deps.db, deps.now, deps.log));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, w) => {
      while (next < USERS) {
        const i = next++;
        await caches[w % caches.length]!.admit(plan, `user-${i}`);
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const admitted = Number((await knex('nebula_tasks').where({ id: task.id }).first('grey_admitted')).grey_admitted);
  const rows = Number((await knex('grey_admissions').where({ task_id: task.id }).count({ n: '*' }))[0]!.n);
  console.log(`${deps.db.dialect}: ${USERS} users admitted by ${CALLERS} callers over 3 caches in ${s.toFixed(2)} s: ${(USERS / s).toFixed(0)} admissions/s (counter ${admitted}, rows ${rows})`);
} finally {
  await srv.close();
}
