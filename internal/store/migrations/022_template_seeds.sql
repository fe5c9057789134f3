-- Seed templates, version 1, English and Russian, rendered into the default layout (021):
-- welcome, plain, review_liked. The user.* and *_url variables are built-ins (internal/template/builtins.ts),
-- so the versions only declare their own variables.

INSERT INTO templates (template_key, name, description, latest_version) VALUES
('welcome', 'Welcome', 'Sent after registration; carries the email confirmation link.', 1),
('plain', 'Plain message', 'Subject and body straight from the data; for tests, demos and one-off notes.', 1),
('review_liked', 'Review liked', 'Someone liked the user''s review of a film.', 1);

INSERT INTO template_versions (template_id, version, category, channels, default_locale, variables, layout_id, note, created_by)
SELECT t.id, 1, s.category, s.channels, 'en', s.variables,
       (SELECT l.id FROM layouts l WHERE l.layout_key = 'default' AND l.version = 1), 'seed', 'migration'
FROM templates t JOIN (
  SELECT 'welcome' AS k, 'transactional' AS category, '["email"]' AS channels, '[]' AS variables
  UNION ALL SELECT 'plain', 'transactional', '["email","websocket"]',
    '[{"name":"subject","type":"string","required":true,"sample":"Hello from Cinema Online","description":"Subject line, also the in-app title."},
      {"name":"body","type":"string","required":true,"sample":"This is a test message.","description":"Plain text body."}]'
  UNION ALL SELECT 'review_liked', 'service', '["email","websocket"]',
    '[{"name":"count","type":"number","required":true,"sample":3,"description":"How many people liked the review."},
      {"name":"film_title","type":"string","required":true,"sample":"Dune: Part Two","description":"Title of the reviewed film."},
      {"name":"review_url","type":"url","required":false,"sample":"https://cinema.example/reviews/42","description":"Link to the review."}]'
) s ON s.k = t.template_key;

INSERT INTO template_contents (version_id, locale, parts)
SELECT v.id, s.locale, s.parts
FROM template_versions v JOIN templates t ON t.id = v.template_id AND v.version = 1 JOIN (
  SELECT 'welcome' AS k, 'en' AS locale, JSON_OBJECT(
    'subject', 'Welcome to Cinema Online{{#user.name}}, {{user.name}}{{/user.name}}!',
    'html', '<h1 style="font-size:24px;margin:0 0 16px">Welcome{{#user.name}}, {{user.name}}{{/user.name}}!</h1>
<p>Thank you for joining Cinema Online. Thousands of films and series are waiting for you.</p>
{{#confirm_url}}<p>Please confirm your email address:</p>
<p><a href="{{confirm_url}}" style="display:inline-block;padding:12px 24px;background:#dc2626;color:#ffffff;text-decoration:none;border-radius:6px">Confirm email</a></p>
<p style="font-size:13px;color:#71717a">If the button does not work, open this link: {{confirm_url}}</p>{{/confirm_url}}',
    'text', 'Welcome{{#user.name}}, {{user.name}}{{/user.name}}!

Thank you for joining Cinema Online. Thousands of films and series are waiting for you.
{{#confirm_url}}
Please confirm your email address: {{confirm_url}}
{{/confirm_url}}') AS parts
  UNION ALL SELECT 'welcome', 'ru', JSON_OBJECT(
    'subject', 'Добро пожаловать в онлайн-кинотеатр{{#user.name}}, {{user.name}}{{/user.name}}!',
    'html', '<h1 style="font-size:24px;margin:0 0 16px">Добро пожаловать{{#user.name}}, {{user.name}}{{/user.name}}!</h1>
<p>Спасибо, что присоединились к онлайн-кинотеатру. Вас ждут тысячи фильмов и сериалов.</p>
{{#confirm_url}}<p>Подтвердите, пожалуйста, адрес электронной почты:</p>
<p><a href="{{confirm_url}}" style="display:inline-block;padding:12px 24px;background:#dc2626;color:#ffffff;text-decoration:none;border-radius:6px">Подтвердить email</a></p>
<p style="font-size:13px;color:#71717a">Если кнопка не работает, откройте ссылку: {{confirm_url}}</p>{{/confirm_url}}',
    'text', 'Добро пожаловать{{#user.name}}, {{user.name}}{{/user.name}}!

Спасибо, что присоединились к онлайн-кинотеатру. Вас ждут тысячи фильмов и сериалов.
{{#confirm_url}}
Подтвердите, пожалуйста, адрес электронной почты: {{confirm_url}}
{{/confirm_url}}')
  UNION ALL SELECT 'plain', 'en', JSON_OBJECT(
    'subject', '{{subject}}', 'html', '<p>{{body}}</p>', 'text', '{{body}}', 'title', '{{subject}}', 'body', '{{body}}')
  UNION ALL SELECT 'plain', 'ru', JSON_OBJECT(
    'subject', '{{subject}}', 'html', '<p>{{body}}</p>', 'text', '{{body}}', 'title', '{{subject}}', 'body', '{{body}}')
  UNION ALL SELECT 'review_liked', 'en', JSON_OBJECT(
    'subject', '{{count}} people liked your review of {{film_title}}',
    'html', '<p>{{count}} people liked your review of <b>{{film_title}}</b>.</p>
{{#review_url}}<p><a href="{{review_url}}">See your review</a></p>{{/review_url}}',
    'text', '{{count}} people liked your review of {{film_title}}.
{{#review_url}}
See your review: {{review_url}}
{{/review_url}}',
    'title', 'Your review got likes',
    'body', '{{count}} people liked your review of {{film_title}}')
  UNION ALL SELECT 'review_liked', 'ru', JSON_OBJECT(
    'subject', 'Вашу рецензию на «{{film_title}}» оценили: {{count}}',
    'html', '<p>Вашу рецензию на <b>«{{film_title}}»</b> оценили: {{count}}.</p>
{{#review_url}}<p><a href="{{review_url}}">Открыть рецензию</a></p>{{/review_url}}',
    'text', 'Вашу рецензию на «{{film_title}}» оценили: {{count}}.
{{#review_url}}
Открыть рецензию: {{review_url}}
{{/review_url}}',
    'title', 'Новые лайки',
    'body', 'Вашу рецензию на «{{film_title}}» оценили: {{count}}')
) s ON s.k = t.template_key;

UPDATE templates t JOIN template_versions v ON v.template_id = t.id AND v.version = 1
SET t.current_version_id = v.id
WHERE t.current_version_id IS NULL;
