-- The automatic event generator: recurring campaigns shipped disabled (drafts). A manager reviews one
-- and enables it with CampaignService.Schedule. Each runs at the given local time in every user's own
-- time zone; template_version 0 means each run uses the template's current version.
INSERT INTO campaigns (name, status, generator, template_key, template_version, channels, category, data,
  audience_kind, segment, schedule_kind, cron, time_zone, local_time, misfire, rate, created_by)
VALUES
('Subscription expires in 3 days', 1, 'subscription_expiring', 'subscription_expiring', 0, 'email', 'service', '{}',
  2, '{"subscriptionExpiresWithinDays":3}', 3, '0 10 * * *', 'Europe/Moscow', 1, 1, 200, 'migration'),
('New films this week', 1, 'new_films_weekly', 'new_films_weekly', 0, 'email', 'marketing', '{}',
  1, '{}', 3, '0 18 * * 5', 'Europe/Moscow', 1, 1, 200, 'migration'),
('Birthday greeting', 1, 'birthday', 'birthday', 0, 'email', 'marketing', '{}',
  2, '{"birthdayToday":true}', 3, '0 10 * * *', 'Europe/Moscow', 1, 1, 200, 'migration');
