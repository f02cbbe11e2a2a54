import { EventConfig, Handlers } from 'motia'

export const config: EventConfig = {
  type: 'event',
  name: 'NotifyCustomer',
  subscribes: ['order.created', 'order.shipped'],
  emits: [{ topic: 'customer.notified', label: 'Notified' }],
  flows: ['orders'],
}

export const handler: Handlers['NotifyCustomer'] = async (input, { logger }) => {
  logger.info('Notify', { input })
}
