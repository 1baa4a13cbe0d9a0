import { InMemoryDeliveryLog } from '../../../functions/notify/delivery-log.ts';
import { describeDeliveryLogContract } from './delivery-log-contract.ts';

describeDeliveryLogContract('in memory', () => new InMemoryDeliveryLog());
