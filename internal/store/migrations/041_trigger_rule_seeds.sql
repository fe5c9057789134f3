-- The rules the platform ships with; editable at run time through TriggerService.
INSERT INTO trigger_rules (event_type, name, action, template_key, channels, category, condition_json,
                           delay_seconds, aggregate_window_seconds, enabled, updated_by) VALUES
('user_registered', 'Welcome email with the confirmation link', 1, 'welcome', 'email', 'transactional', '{}', 0, 0, 1, 'migration'),
('review_liked', 'Your review was liked (in-app, at once)', 1, 'review_liked', 'websocket', 'service', '{}', 0, 0, 1, 'migration'),
('review_liked', 'Your review was liked (email, at most one an hour)', 1, 'review_liked', 'email', 'service', '{}', 0, 3600, 1, 'migration'),
('film_added', 'New film: input for the weekly digest', 2, '', '', '', '{}', 0, 0, 1, 'migration');
