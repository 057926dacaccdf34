// Compute: network, cluster, services, GPU capacity, scaling with min 0, stop timeouts, logs, ECR.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { backlogSteps } from '../lib/queue-scaling';
import { logicalId, synth, template, Variant } from './fixtures';

type Res = Record<string, any>;

/** worker name -> its service, task definition and container, by following references. */
function workers(t: Template): Record<string, { service: Res; serviceId: string; task: Res; container: Res }> {
  const tasks = t.findResources('AWS::ECS::TaskDefinition');
  const out: Record<string, { service: Res; serviceId: string; task: Res; container: Res }> = {};
  for (const [serviceId, service] of Object.entries(t.findResources('AWS::ECS::Service'))) {
    const task = tasks[service.Properties.TaskDefinition.Ref];
    const [container] = task.Properties.ContainerDefinitions;
    out[container.Name] = { service, serviceId, task, container };
  }
  return out;
}

function envOf(container: Res): Record<string, unknown> {
  return Object.fromEntries(container.Environment.map((e: Res) => [e.Name, e.Value]));
}

describe('compute: network and cluster', () => {
  const t = template('Compute');
  it('VPC spans 2 AZs with one NAT gateway and S3/DynamoDB gateway endpoints', () => {
    t.resourceCountIs('AWS::EC2::VPC', 1);
    t.resourceCountIs('AWS::EC2::Subnet', 4);
    t.resourceCountIs('AWS::EC2::NatGateway', 1);
    const endpoints = Object.values(t.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify(e.Properties.ServiceName));
    assert.equal(endpoints.length, 2);
    assert.ok(endpoints.some((s) => s.includes('.s3')) && endpoints.some((s) => s.includes('.dynamodb')));
  });

  it('security groups admit nothing and let only HTTPS out', () => {
    for (const sg of Object.values(t.findResources('AWS::EC2::SecurityGroup'))) {
      assert.equal(sg.Properties.SecurityGroupIngress, undefined);
      assert.deepEqual(
        sg.Properties.SecurityGroupEgress.map((e: Res) => [e.CidrIp, e.IpProtocol, e.FromPort, e.ToPort]),
        [['0.0.0.0/0', 'tcp', 443, 443]],
      );
    }
  });

  it('cluster has Container Insights', () => {
    t.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
  });
});

describe('compute: worker services', () => {
  const t = template('Compute');
  const w = workers(t);

  it('runs media-worker, video-worker and reassembler, each its own binary', () => {
    assert.deepEqual(Object.keys(w).sort(), ['media-worker', 'reassembler', 'video-worker']);
    for (const [name, { container }] of Object.entries(w)) assert.deepEqual(container.Command, [name]);
  });

  it('services start with 0 tasks in private subnets without public IPs', () => {
    for (const { service } of Object.values(w)) {
      assert.equal(service.Properties.DesiredCount, 0);
      assert.equal(service.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, 'DISABLED');
    }
  });

  it('media-worker and reassembler run on Fargate from the worker image', () => {
    const images = synth().templates['StereoSpot-Images'];
    const workerRepo = Object.keys(images.Resources).find((k) => k.startsWith('WorkerRepository'));
    for (const name of ['media-worker', 'reassembler']) {
      assert.equal(w[name].service.Properties.LaunchType, 'FARGATE');
      assert.ok(JSON.stringify(w[name].container.Image).includes(`ExportsOutputRef${workerRepo}`), name);
    }
  });

  it('video-worker runs on the GPU capacity provider with one GPU, from the CUDA image', () => {
    const v = w['video-worker'];
    const cp = logicalId(t, 'AWS::ECS::CapacityProvider', 'GpuCapacityProvider');
    assert.deepEqual(v.service.Properties.CapacityProviderStrategy, [{ CapacityProvider: { Ref: cp }, Weight: 1 }]);
    assert.equal(v.service.Properties.LaunchType, undefined);
    assert.deepEqual(v.container.ResourceRequirements, [{ Type: 'GPU', Value: '1' }]);
    assert.deepEqual(v.task.Properties.RequiresCompatibilities, ['EC2']);
    assert.ok(JSON.stringify(v.container.Image).includes('VideoWorkerGpuRepository'));
    assert.equal(envOf(v.container).DEPTH_DEVICE, 'cuda');
  });

  it('GPU instances: ECS GPU AMI (AL2023), g4dn.xlarge, IMDSv2, encrypted root, 0..4 instances, managed scaling', () => {
    const lt = Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData;
    assert.equal(lt.InstanceType, 'g4dn.xlarge');
    assert.equal(lt.MetadataOptions.HttpTokens, 'required');
    assert.equal(lt.BlockDeviceMappings[0].Ebs.Encrypted, true);
    const amiParam = Object.values(t.toJSON().Parameters as Res).find((p: Res) =>
      String(p.Default).includes('/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id'),
    );
    assert.ok(amiParam, 'AMI from the ECS AL2023 GPU SSM parameter');
    assert.equal(JSON.stringify(lt.ImageId).includes('SsmParameterValueawsserviceecsoptimizedamiamazonlinux2023gpu'), true);
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: '0', MaxSize: '4' });
    t.hasResourceProperties('AWS::ECS::CapacityProvider', {
      AutoScalingGroupProvider: { ManagedScaling: { Status: 'ENABLED', TargetCapacity: 100 }, ManagedTerminationProtection: 'ENABLED' },
    });
  });

  it('stop timeout = SHUTDOWN_GRACE_SECONDS + 10 s, within Fargate\'s 120 s', () => {
    for (const [name, { container }] of Object.entries(w)) {
      const grace = Number(envOf(container).SHUTDOWN_GRACE_SECONDS);
      assert.equal(grace, 90, name);
      assert.equal(container.StopTimeout, grace + 10, name);
      assert.ok(container.StopTimeout <= 120, name);
      assert.equal(container.LinuxParameters.InitProcessEnabled, true, name);
    }
  });

  it('each service logs to its own log group with retention', () => {
    const groups = t.findResources('AWS::Logs::LogGroup');
    const used = Object.values(w).map(({ container }) => container.LogConfiguration.Options['awslogs-group'].Ref);
    assert.equal(new Set(used).size, 3);
    for (const id of used) assert.equal(groups[id].Properties.RetentionInDays, 30);
  });
});

describe('compute: scaling on queue depth, minimum 0', () => {
  const t = template('Compute');
  const w = workers(t);
  const targets = t.findResources('AWS::ApplicationAutoScaling::ScalableTarget');
  const policies = t.findResources('AWS::ApplicationAutoScaling::ScalingPolicy');
  const alarms = t.findResources('AWS::CloudWatch::Alarm');
  const storage = synth().templates['StereoSpot-Storage'];
  const queueExport = (prefix: string): string => {
    const id = Object.keys(storage.Resources).find((k) => k.startsWith(prefix) && storage.Resources[k].Type === 'AWS::SQS::Queue');
    return `FnGetAtt${id}QueueName`;
  };

  const cases = [
    { worker: 'media-worker', backlog: 1, max: 4, queues: ['ChunkingQueue'] },
    { worker: 'video-worker', backlog: 2, max: 4, queues: ['VideoWorkerQueue'] },
    { worker: 'reassembler', backlog: 10, max: 2, queues: ['SegmentOutputQueue', 'ReassemblyQueue'] },
  ];
  for (const c of cases) {
    it(`${c.worker}: 0..${c.max} tasks, ceil(backlog/${c.backlog}) of ${c.queues.join(' + ')}`, () => {
      const serviceId = w[c.worker].serviceId;
      const [targetId, target] = Object.entries(targets).find(([, tg]) =>
        JSON.stringify(tg.Properties.ResourceId).includes(`"${serviceId}","Name"`),
      )!;
      assert.equal(target.Properties.MinCapacity, 0);
      assert.equal(target.Properties.MaxCapacity, c.max);
      assert.equal(target.Properties.ScalableDimension, 'ecs:service:DesiredCount');

      const mine = Object.entries(policies).filter(([, p]) => p.Properties.ScalingTargetId.Ref === targetId);
      assert.equal(mine.length, 2);
      const follow = mine.find(([id]) => id.includes('FollowBacklog'))!;
      const zero = mine.find(([id]) => id.includes('ScaleToZero'))!;
      const cfg = follow[1].Properties.StepScalingPolicyConfiguration;
      assert.equal(cfg.AdjustmentType, 'ExactCapacity');
      const steps = cfg.StepAdjustments.map((s: Res) => [s.MetricIntervalLowerBound, s.MetricIntervalUpperBound, s.ScalingAdjustment]);
      const expected = [];
      for (let k = 1; k <= c.max; k++) expected.push([(k - 1) * c.backlog, k === c.max ? undefined : k * c.backlog, k]);
      assert.deepEqual(steps, expected);
      assert.deepEqual(zero[1].Properties.StepScalingPolicyConfiguration.StepAdjustments, [
        { MetricIntervalUpperBound: 0, ScalingAdjustment: 0 },
      ]);
      assert.equal(zero[1].Properties.StepScalingPolicyConfiguration.AdjustmentType, 'ExactCapacity');

      const alarmFor = (policyId: string) =>
        Object.values(alarms).find((a) => (a.Properties.AlarmActions ?? []).some((x: Res) => x.Ref === policyId))!.Properties;
      const out = alarmFor(follow[0]);
      assert.equal(out.ComparisonOperator, 'GreaterThanThreshold');
      assert.equal(out.Threshold, 0.5);
      const metricNames = out.Metrics.filter((m: Res) => m.MetricStat).map((m: Res) => m.MetricStat.Metric.MetricName).sort();
      const perQueue = ['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesVisible'];
      assert.deepEqual(metricNames, c.queues.flatMap(() => perQueue).sort());
      const queueRefs = JSON.stringify(out.Metrics);
      for (const q of c.queues) assert.ok(queueRefs.includes(queueExport(q)), `${c.worker} watches ${q}`);
      const idle = alarmFor(zero[0]);
      assert.equal(idle.ComparisonOperator, 'LessThanThreshold');
      assert.equal(idle.EvaluationPeriods, 5);
      assert.equal(idle.TreatMissingData, 'breaching');
      assert.deepEqual(idle.Metrics, out.Metrics);
    });
  }

  it('backlogSteps maps backlog b to ceil(b / B) tasks', () => {
    const steps = backlogSteps(3, 5);
    const tasksFor = (backlog: number): number => {
      const x = backlog - 0.5;
      const s = steps.find((st) => x >= (st.lowerBound ?? -Infinity) && x < (st.upperBound ?? Infinity));
      return s ? s.adjustment : 0;
    };
    for (let b = 1; b <= 20; b++) assert.equal(tasksFor(b), Math.min(5, Math.ceil(b / 3)), `backlog ${b}`);
    assert.throws(() => backlogSteps(0, 2));
    assert.throws(() => backlogSteps(1, 21));
  });
});

describe('compute: variants', () => {
  for (const variant of ['cpu', 'inference'] as Variant[]) {
    it(`${variant}: video-worker on Fargate from the worker image, no GPU capacity`, () => {
      const t = template('Compute', variant);
      const v = workers(t)['video-worker'];
      assert.equal(v.service.Properties.LaunchType, 'FARGATE');
      assert.equal(v.container.ResourceRequirements, undefined);
      assert.ok(JSON.stringify(v.container.Image).includes('WorkerRepository'));
      assert.ok(!JSON.stringify(v.container.Image).includes('VideoWorkerGpu'));
      t.resourceCountIs('AWS::ECS::CapacityProvider', 0);
      t.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 0);
    });
  }
});

describe('images', () => {
  const t = template('Images');
  it('three ECR repositories that keep the last 10 images and scan on push', () => {
    const repos = Object.values(t.findResources('AWS::ECR::Repository'));
    assert.equal(repos.length, 3);
    for (const r of repos) {
      const policy = JSON.parse(r.Properties.LifecyclePolicy.LifecyclePolicyText);
      assert.equal(policy.rules.length, 1);
      assert.deepEqual(policy.rules[0].selection, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 10 });
      assert.equal(policy.rules[0].action.type, 'expire');
      assert.equal(r.Properties.ImageScanningConfiguration.ScanOnPush, true);
    }
  });
});
