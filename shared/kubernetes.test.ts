import { ownerWorkloadOf, workloadOf } from './kubernetes.js';

describe('workloadOf', () => {
  test.each([
    // Deployments (Nezha's TrainTicket and OnlineBoutique pods).
    ['ts-order-service-5d8f7b9c4-xk2lp', 'ts-order-service'],
    ['ts-order-service-5b67c48447-mv5hb', 'ts-order-service'],
    ['ts-basic-service-5dc8d4f9fd-46997', 'ts-basic-service'],
    ['ts-station-food-service-dc4d75dd-fw6ft', 'ts-station-food-service'],
    ['currencyservice-cf787dd48-vpjrd', 'currencyservice'],
    ['adservice-5f6585d649-fnmft', 'adservice'],
    ['frontend-579b9bff58-t2dbm', 'frontend'],
    // StatefulSet, DaemonSet, CronJob, bare pods.
    ['kafka-0', 'kafka'],
    ['elasticsearch-master-12', 'elasticsearch-master'],
    ['fluent-bit-x7k2p', 'fluent-bit'],
    ['backup-28472640-x7k2p', 'backup'],
    ['etcd-node-1', 'etcd-node'],
    ['debug-shell', 'debug-shell'],
    ['nginx', 'nginx'],
    // A last word with vowels is not a generated suffix.
    ['my-app-stuff', 'my-app-stuff'],
  ])('%s -> %s', (pod, workload) => expect(workloadOf(pod)).toBe(workload));
});

describe('ownerWorkloadOf', () => {
  test.each([
    // ReplicaSet -> Deployment, Job -> CronJob.
    ['frontend-579b9bff58', 'frontend'],
    ['ts-station-food-service-dc4d75dd', 'ts-station-food-service'],
    ['backup-28472640', 'backup'],
    // Names without a generated suffix are the workload.
    ['kafka', 'kafka'],
    ['db-migrate', 'db-migrate'],
    ['api-v2', 'api-v2'],
  ])('%s -> %s', (controller, workload) => expect(ownerWorkloadOf(controller)).toBe(workload));
});
