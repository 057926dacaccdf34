// Web stack (lib/web-stack.ts): the web-ui service behind an HTTPS ALB, opt-in with -c web=true.
// Works whether or not the app entry builds the stack itself: it is added here when absent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { checkContract, readRustEnvNames } from '../lib/contract';
import { buildPipeline } from '../lib/pipeline-app';
import { resolveRef, Templates } from '../lib/templates';
import { loadWebSettings, WEB_HEALTH_PATH, WEB_PORT, WebStack } from '../lib/web-stack';

type Res = Record<string, any>;

const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/00000000-1111-2222-3333-444444444444';
const OIDC = {
  webAuth: 'alb-oidc',
  webOidcIssuer: 'https://idp.example.com',
  webOidcAuthorizationEndpoint: 'https://idp.example.com/authorize',
  webOidcTokenEndpoint: 'https://idp.example.com/token',
  webOidcUserInfoEndpoint: 'https://idp.example.com/userinfo',
  webOidcClientId: 'stereospot',
  webOidcClientSecretName: 'stereospot/web-oidc-client-secret',
};
const STACK = 'StereoSpot-Web';

function synthWeb(context: Record<string, string>): { t: Template; templates: Templates } {
  const pipeline = buildPipeline({ context: { web: 'true', webCertificateArn: CERT, ...context } });
  const app = pipeline.app;
  if (!app.node.tryFindChild(STACK)) {
    const web = loadWebSettings((k) => app.node.tryGetContext(k));
    assert.ok(web);
    new WebStack(app, STACK, {
      config: pipeline.config,
      web,
      storage: pipeline.storage,
      images: pipeline.images,
      vpc: pipeline.compute.vpc,
      cluster: pipeline.compute.cluster,
    });
  }
  const templates: Templates = {};
  for (const s of app.synth().stacks) templates[s.stackName] = s.template;
  assert.ok(templates[STACK], 'web stack synthesized');
  return { t: Template.fromJSON(templates[STACK]), templates };
}

function only(t: Template, type: string): Res {
  const all = Object.values(t.findResources(type));
  assert.equal(all.length, 1, `one ${type}`);
  return all[0].Properties;
}

function label(templates: Templates, value: unknown): string {
  if (typeof value === 'string') return value;
  const ref = resolveRef(templates, STACK, value);
  if (ref) return ref.logicalId.replace(/[0-9A-F]{8}$/, '');
  const join = (value as Res)?.['Fn::Join'];
  if (join) return join[1].map((p: unknown) => label(templates, p)).join(join[0]);
  return JSON.stringify(value);
}

describe('web: settings', () => {
  const get = (ctx: Record<string, string>) => (k: string) => ctx[k];
  it('is off unless web=true, and then needs a certificate', () => {
    assert.equal(loadWebSettings(get({})), undefined);
    assert.equal(loadWebSettings(get({ web: 'false' })), undefined);
    assert.throws(() => loadWebSettings(get({ web: 'true' })), /webCertificateArn/);
    assert.throws(() => loadWebSettings(get({ web: 'true', webCertificateArn: 'arn:aws:iam::1:cert' })), /webCertificateArn/);
    assert.throws(() => loadWebSettings(get({ web: 'yes' })), /context web/);
    const s = loadWebSettings(get({ web: 'true', webCertificateArn: CERT }));
    assert.deepEqual(s, { certificateArn: CERT, auth: 'bearer', oidc: undefined, allowedCidr: '0.0.0.0/0', desiredCount: 1 });
  });

  it('validates auth, OIDC endpoints, CIDR and task count', () => {
    const base = { web: 'true', webCertificateArn: CERT };
    assert.throws(() => loadWebSettings(get({ ...base, webAuth: 'basic' })), /webAuth/);
    assert.throws(() => loadWebSettings(get({ ...base, webAuth: 'alb-oidc' })), /webOidcIssuer/);
    assert.throws(() => loadWebSettings(get({ ...base, ...OIDC, webOidcTokenEndpoint: 'http://idp/token' })), /https/);
    assert.throws(() => loadWebSettings(get({ ...base, webAllowedCidr: 'everyone' })), /webAllowedCidr/);
    assert.throws(() => loadWebSettings(get({ ...base, webDesiredCount: '0' })), /webDesiredCount/);
    assert.equal(loadWebSettings(get({ ...base, ...OIDC }))?.oidc?.clientId, 'stereospot');
  });
});

describe('web: bearer (default)', () => {
  const { t, templates } = synthWeb({});

  it('runs the web-ui binary of the worker image on Fargate, with the env contract', () => {
    const task = only(t, 'AWS::ECS::TaskDefinition');
    const [c] = task.ContainerDefinitions;
    assert.equal(c.Name, 'web-ui');
    assert.deepEqual(c.Command, ['web-ui']);
    assert.deepEqual(c.PortMappings, [{ ContainerPort: WEB_PORT, Protocol: 'tcp' }]);
    assert.equal(c.ReadonlyRootFilesystem, true);
    assert.equal(JSON.stringify(c.Image).includes('WorkerRepository'), true, 'the CPU worker image');
    const env = Object.fromEntries(c.Environment.map((e: Res) => [e.Name, e.Value]));
    assert.equal(env.WEB_AUTH, 'bearer');
    assert.equal(env.WEB_LISTEN_ADDR, `0.0.0.0:${WEB_PORT}`);
    assert.equal(env.LOG_FORMAT, 'json');
    assert.deepEqual(c.Secrets.map((s: Res) => s.Name), ['WEB_AUTH_TOKEN']);
    assert.equal(resolveRef(templates, STACK, c.Secrets[0].ValueFrom)?.type, 'AWS::SecretsManager::Secret');
    assert.deepEqual(checkContract(templates, readRustEnvNames()), [], 'env contract over every stack');
    const svc = only(t, 'AWS::ECS::Service');
    assert.equal(svc.LaunchType, 'FARGATE');
    assert.equal(svc.DesiredCount, 1);
    assert.equal(svc.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, 'DISABLED');
  });

  it('serves HTTPS only, with the certificate, a TLS 1.2+ policy and /healthz checks', () => {
    const alb = only(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    assert.equal(alb.Scheme, 'internet-facing');
    const attrs = Object.fromEntries(alb.LoadBalancerAttributes.map((a: Res) => [a.Key, a.Value]));
    assert.equal(attrs['routing.http.drop_invalid_header_fields.enabled'], 'true');
    assert.equal(attrs['deletion_protection.enabled'], 'true');
    const listener = only(t, 'AWS::ElasticLoadBalancingV2::Listener');
    assert.equal(listener.Protocol, 'HTTPS');
    assert.equal(listener.Port, 443);
    assert.deepEqual(listener.Certificates, [{ CertificateArn: CERT }]);
    assert.match(listener.SslPolicy, /^ELBSecurityPolicy-TLS13-1-2/);
    assert.deepEqual(listener.DefaultActions.map((a: Res) => a.Type), ['forward']);
    const tg = only(t, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    assert.equal(tg.Port, WEB_PORT);
    assert.equal(tg.TargetType, 'ip');
    assert.equal(tg.HealthCheckPath, WEB_HEALTH_PATH);
  });

  it('security groups: 443 in to the ALB, 8080 from the ALB to the tasks, HTTPS out', () => {
    const groups = t.findResources('AWS::EC2::SecurityGroup');
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    const albId = Object.keys(groups).find((id) => id.startsWith('LoadBalancerSecurityGroup'))!;
    const svcId = Object.keys(groups).find((id) => id.startsWith('ServiceSecurityGroup'))!;
    assert.deepEqual(
      groups[albId].Properties.SecurityGroupIngress.map((r: Res) => [r.CidrIp, r.FromPort, r.ToPort]),
      [['0.0.0.0/0', 443, 443]],
    );
    assert.deepEqual(
      ingress.map((r) => [r.GroupId['Fn::GetAtt'][0], r.SourceSecurityGroupId['Fn::GetAtt'][0], r.FromPort]),
      [[svcId, albId, WEB_PORT]],
    );
    // An inline egress list replaces the default allow-all; the target registration adds the
    // same ALB -> tasks rule as a group reference.
    const egress = Object.values(t.findResources('AWS::EC2::SecurityGroupEgress')).map((r) => r.Properties);
    assert.deepEqual(
      egress.map((r) => [r.GroupId['Fn::GetAtt'][0], r.DestinationSecurityGroupId['Fn::GetAtt'][0], r.FromPort, r.ToPort]),
      [[albId, svcId, WEB_PORT, WEB_PORT]],
    );
    assert.deepEqual(
      groups[albId].Properties.SecurityGroupEgress.map((r: Res) => [JSON.stringify(r.CidrIp).includes('Vpc'), r.FromPort, r.ToPort]),
      [[true, WEB_PORT, WEB_PORT]],
    );
    assert.deepEqual(
      groups[svcId].Properties.SecurityGroupEgress.map((r: Res) => [r.CidrIp, r.FromPort]),
      [['0.0.0.0/0', 443]],
    );
  });

  it('task role: uploads into input/, reads results and the Jobs table, controls jobs, nothing else', () => {
    const task = only(t, 'AWS::ECS::TaskDefinition');
    const roleId = task.TaskRoleArn['Fn::GetAtt'][0];
    const out: string[] = [];
    for (const p of Object.values(t.findResources('AWS::IAM::Policy'))) {
      if (!p.Properties.Roles.some((r: Res) => r.Ref === roleId)) continue;
      for (const s of p.Properties.PolicyDocument.Statement) {
        for (const a of [].concat(s.Action)) for (const r of [].concat(s.Resource)) out.push(`${a} ${label(templates, r)}`);
      }
    }
    assert.deepEqual(out.sort(), [
      'dynamodb:DeleteItem JobsTable',
      'dynamodb:DeleteItem ReassemblyTriggeredTable',
      'dynamodb:DeleteItem SegmentCompletionsTable',
      'dynamodb:GetItem JobsTable',
      'dynamodb:GetItem JobsTable/index/*',
      'dynamodb:Query JobsTable',
      'dynamodb:Query JobsTable/index/*',
      'dynamodb:Query SegmentCompletionsTable',
      'dynamodb:UpdateItem JobsTable',
      's3:AbortMultipartUpload InputBucket/input/*',
      's3:DeleteObject InputBucket/input/*',
      's3:DeleteObject InputBucket/segments/*',
      's3:DeleteObject OutputBucket/jobs/*',
      's3:GetObject InputBucket/input/*',
      's3:GetObject OutputBucket/jobs/*/final.mp4',
      's3:GetObject OutputBucket/jobs/*/thumbnail.jpg',
      's3:GetObjectTagging InputBucket/input/*',
      's3:ListBucket InputBucket',
      's3:ListBucket OutputBucket',
      's3:PutObject InputBucket/input/*',
      's3:PutObjectTagging InputBucket/input/*',
    ]);
  });

  it('publishes the URL and the token secret', () => {
    const outputs = Object.keys(t.toJSON().Outputs ?? {});
    for (const o of ['WebUrl', 'WebServiceName', 'WebAuthTokenSecretArn']) assert.ok(outputs.includes(o), o);
  });
});

describe('web: storage it relies on', () => {
  const { templates } = synthWeb({});
  it('input bucket takes browser PUTs (presigned) and exposes ETag for multipart completion', () => {
    const storage = Template.fromJSON(templates['StereoSpot-Storage']);
    const input = Object.entries(storage.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('InputBucket'));
    assert.ok(input, 'input bucket');
    const rules = input[1].Properties.CorsConfiguration.CorsRules;
    assert.deepEqual(
      rules.map((r: Res) => [r.AllowedMethods, r.AllowedHeaders, r.ExposedHeaders]),
      [[
        ['PUT'],
        [
          'Content-Type',
          'x-amz-meta-stereospot-layout',
          'x-amz-meta-stereospot-divergence',
          'x-amz-meta-stereospot-convergence',
          'x-amz-meta-stereospot-owner',
        ],
        ['ETag'],
      ]],
    );
  });
});

describe('web: alb-oidc', () => {
  const { t, templates } = synthWeb(OIDC);

  it('authenticates at the ALB, then forwards; no token', () => {
    const listener = only(t, 'AWS::ElasticLoadBalancingV2::Listener');
    const [auth, fwd] = listener.DefaultActions;
    assert.equal(auth.Type, 'authenticate-oidc');
    assert.equal(auth.AuthenticateOidcConfig.Issuer, OIDC.webOidcIssuer);
    assert.equal(auth.AuthenticateOidcConfig.ClientId, OIDC.webOidcClientId);
    assert.match(JSON.stringify(auth.AuthenticateOidcConfig.ClientSecret), /resolve:secretsmanager:stereospot\/web-oidc-client-secret/);
    assert.equal(fwd.Type, 'forward');
    const [c] = only(t, 'AWS::ECS::TaskDefinition').ContainerDefinitions;
    const env = Object.fromEntries(c.Environment.map((e: Res) => [e.Name, e.Value]));
    assert.equal(env.WEB_AUTH, 'alb-oidc');
    assert.equal(c.Secrets, undefined);
    t.resourceCountIs('AWS::SecretsManager::Secret', 0);
    assert.deepEqual(checkContract(templates, readRustEnvNames()), []);
  });
});
