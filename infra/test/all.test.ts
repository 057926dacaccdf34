// One test process for every spec, so each app variant is synthesized once (~5 s the first time).
import './config.spec';
import './storage.spec';
import './queues.spec';
import './tables.spec';
import './compute.spec';
import './iam.spec';
import './alarms.spec';
import './inference.spec';
import './contract.spec';
import './shapes.spec';
import './write-env.spec';
import './docs.spec';
import './web.spec';
