import { queue, StepConfig, Handlers } from 'motia'

export const config = {
  name: 'SendMail',
  triggers: [queue('ticket.triaged')],
  enqueues: [],
} as const satisfies StepConfig

export const handler: Handlers<typeof config> = async (input, { logger }) => {
  logger.info('mail', { input })
}
