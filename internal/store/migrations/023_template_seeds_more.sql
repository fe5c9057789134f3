-- Seed templates for the scheduler and campaigns, version 1, English and Russian, in the default layout:
-- new_films_weekly (a list section), subscription_expiring, birthday.

INSERT INTO templates (template_key, name, description, latest_version) VALUES
('new_films_weekly', 'New films this week', 'Weekly digest of new films, every Friday in the user''s time zone.', 1),
('subscription_expiring', 'Subscription expiring', 'The subscription ends in a few days.', 1),
('birthday', 'Birthday greeting', 'Greeting with an optional promo code on the user''s birthday.', 1);

INSERT INTO template_versions (template_id, version, category, channels, default_locale, variables, layout_id, note, created_by)
SELECT t.id, 1, s.category, s.channels, 'en', s.variables,
       (SELECT l.id FROM layouts l WHERE l.layout_key = 'default' AND l.version = 1), 'seed', 'migration'
FROM templates t JOIN (
  SELECT 'new_films_weekly' AS k, 'marketing' AS category, '["email"]' AS channels,
    '[{"name":"films","type":"list","required":true,"description":"New films, newest first.","sample":[{"title":"Dune: Part Two","year":2024,"genre":"sci-fi","url":"https://cinema.example/films/dune-part-two"},{"title":"Anora","year":2024,"genre":"drama","url":"https://cinema.example/films/anora"}]},
      {"name":"films.title","type":"string","required":true,"sample":"Dune: Part Two","description":"Film title."},
      {"name":"films.url","type":"url","required":true,"sample":"https://cinema.example/films/dune-part-two","description":"Film page."},
      {"name":"films.year","type":"number","required":false,"sample":2024,"description":"Release year."},
      {"name":"films.genre","type":"string","required":false,"sample":"sci-fi","description":"Main genre."},
      {"name":"week_of","type":"string","required":false,"sample":"2025-05-30","description":"Date of the digest, as shown to the user."}]' AS variables
  UNION ALL SELECT 'subscription_expiring', 'service', '["email","websocket"]',
    '[{"name":"days_left","type":"number","required":true,"sample":3,"description":"Whole days until the subscription ends."},
      {"name":"expires_at","type":"string","required":true,"sample":"2025-06-01","description":"End date, formatted for the user."},
      {"name":"renew_url","type":"url","required":false,"sample":"https://cinema.example/subscription","description":"Renewal page."}]'
  UNION ALL SELECT 'birthday', 'marketing', '["email"]',
    '[{"name":"promo_code","type":"string","required":false,"sample":"HAPPY-BDAY","description":"Gift promo code."},
      {"name":"gift_url","type":"url","required":false,"sample":"https://cinema.example/gift","description":"Where to claim the gift."}]'
) s ON s.k = t.template_key;

INSERT INTO template_contents (version_id, locale, parts)
SELECT v.id, s.locale, s.parts
FROM template_versions v JOIN templates t ON t.id = v.template_id AND v.version = 1 JOIN (
  SELECT 'new_films_weekly' AS k, 'en' AS locale, JSON_OBJECT(
    'subject', 'New films this week{{#user.name}}, {{user.name}}{{/user.name}}',
    'html', '<h1 style="font-size:24px;margin:0 0 16px">New this week{{#week_of}} ({{week_of}}){{/week_of}}</h1>
<ul style="padding-left:20px">
{{#films}}<li style="margin-bottom:8px"><a href="{{url}}">{{title}}</a>{{#year}} ({{year}}){{/year}}{{#genre}} &middot; {{genre}}{{/genre}}</li>
{{/films}}</ul>
{{^films}}<p>No new films this week.</p>{{/films}}',
    'text', 'New this week{{#week_of}} ({{week_of}}){{/week_of}}:

{{#films}}- {{title}}{{#year}} ({{year}}){{/year}}: {{url}}
{{/films}}{{^films}}No new films this week.
{{/films}}') AS parts
  UNION ALL SELECT 'new_films_weekly', 'ru', JSON_OBJECT(
    'subject', 'Новинки недели{{#user.name}}, {{user.name}}{{/user.name}}',
    'html', '<h1 style="font-size:24px;margin:0 0 16px">Новинки недели{{#week_of}} ({{week_of}}){{/week_of}}</h1>
<ul style="padding-left:20px">
{{#films}}<li style="margin-bottom:8px"><a href="{{url}}">{{title}}</a>{{#year}} ({{year}}){{/year}}{{#genre}} &middot; {{genre}}{{/genre}}</li>
{{/films}}</ul>
{{^films}}<p>На этой неделе новинок нет.</p>{{/films}}',
    'text', 'Новинки недели{{#week_of}} ({{week_of}}){{/week_of}}:

{{#films}}- {{title}}{{#year}} ({{year}}){{/year}}: {{url}}
{{/films}}{{^films}}На этой неделе новинок нет.
{{/films}}')
  UNION ALL SELECT 'subscription_expiring', 'en', JSON_OBJECT(
    'subject', 'Your subscription expires in {{days_left}} days',
    'html', '<p>Your subscription ends on <b>{{expires_at}}</b>, in {{days_left}} days.</p>
{{#renew_url}}<p><a href="{{renew_url}}" style="display:inline-block;padding:12px 24px;background:#dc2626;color:#ffffff;text-decoration:none;border-radius:6px">Renew subscription</a></p>{{/renew_url}}',
    'text', 'Your subscription ends on {{expires_at}}, in {{days_left}} days.
{{#renew_url}}
Renew: {{renew_url}}
{{/renew_url}}',
    'title', 'Subscription expiring',
    'body', 'Your subscription ends on {{expires_at}}, in {{days_left}} days.')
  UNION ALL SELECT 'subscription_expiring', 'ru', JSON_OBJECT(
    'subject', 'Подписка заканчивается через {{days_left}} дн.',
    'html', '<p>Ваша подписка заканчивается <b>{{expires_at}}</b> (через {{days_left}} дн.).</p>
{{#renew_url}}<p><a href="{{renew_url}}" style="display:inline-block;padding:12px 24px;background:#dc2626;color:#ffffff;text-decoration:none;border-radius:6px">Продлить подписку</a></p>{{/renew_url}}',
    'text', 'Ваша подписка заканчивается {{expires_at}} (через {{days_left}} дн.).
{{#renew_url}}
Продлить: {{renew_url}}
{{/renew_url}}',
    'title', 'Подписка заканчивается',
    'body', 'Ваша подписка заканчивается {{expires_at}} (через {{days_left}} дн.).')
  UNION ALL SELECT 'birthday', 'en', JSON_OBJECT(
    'subject', 'Happy birthday{{#user.name}}, {{user.name}}{{/user.name}}!',
    'html', '<h1 style="font-size:24px;margin:0 0 16px">Happy birthday{{#user.name}}, {{user.name}}{{/user.name}}!</h1>
<p>The whole Cinema Online team wishes you a wonderful day.</p>
{{#promo_code}}<p>Our gift: a free month with the promo code <b>{{promo_code}}</b>.</p>{{/promo_code}}
{{#gift_url}}<p><a href="{{gift_url}}">Claim your gift</a></p>{{/gift_url}}',
    'text', 'Happy birthday{{#user.name}}, {{user.name}}{{/user.name}}!

The whole Cinema Online team wishes you a wonderful day.
{{#promo_code}}Our gift: a free month with the promo code {{promo_code}}.
{{/promo_code}}{{#gift_url}}Claim your gift: {{gift_url}}
{{/gift_url}}')
  UNION ALL SELECT 'birthday', 'ru', JSON_OBJECT(
    'subject', 'С днём рождения{{#user.name}}, {{user.name}}{{/user.name}}!',
    'html', '<h1 style="font-size:24px;margin:0 0 16px">С днём рождения{{#user.name}}, {{user.name}}{{/user.name}}!</h1>
<p>Команда онлайн-кинотеатра желает вам прекрасного дня.</p>
{{#promo_code}}<p>Наш подарок: месяц бесплатно по промокоду <b>{{promo_code}}</b>.</p>{{/promo_code}}
{{#gift_url}}<p><a href="{{gift_url}}">Получить подарок</a></p>{{/gift_url}}',
    'text', 'С днём рождения{{#user.name}}, {{user.name}}{{/user.name}}!

Команда онлайн-кинотеатра желает вам прекрасного дня.
{{#promo_code}}Наш подарок: месяц бесплатно по промокоду {{promo_code}}.
{{/promo_code}}{{#gift_url}}Получить подарок: {{gift_url}}
{{/gift_url}}')
) s ON s.k = t.template_key;

UPDATE templates t JOIN template_versions v ON v.template_id = t.id AND v.version = 1
SET t.current_version_id = v.id
WHERE t.current_version_id IS NULL;
