-- The default email layout (version 1), in English and Russian: a header, the template's html or text
-- in {{{content}}}, and a footer with the cinema's address, the preferences link and, only when the
-- platform passes one (marketing mail), the one-click unsubscribe link.

INSERT INTO layouts (layout_key, version, name, description, default_locale, contents, created_by)
VALUES ('default', 1, 'Default', 'Header, content, footer with address and unsubscribe link.', 'en',
JSON_OBJECT(
'en', JSON_OBJECT(
'html', '<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{subject}}</title></head>
<body style="margin:0;padding:0;background:#f4f4f5;font-family:Arial,Helvetica,sans-serif;color:#18181b">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border-radius:8px">
<tr><td style="padding:20px 32px;background:#111827;color:#ffffff;font-size:20px;font-weight:bold;border-radius:8px 8px 0 0">Cinema Online</td></tr>
<tr><td style="padding:32px;font-size:16px;line-height:1.5">{{{content}}}</td></tr>
<tr><td style="padding:20px 32px;font-size:12px;line-height:1.5;color:#71717a;border-top:1px solid #e4e4e7">
Cinema Online, 12 Tverskaya St, Moscow 125009, Russia<br>
{{#preferences_url}}<a href="{{preferences_url}}" style="color:#71717a">Notification settings</a>{{/preferences_url}}
{{#unsubscribe_url}} &middot; <a href="{{unsubscribe_url}}" style="color:#71717a">Unsubscribe</a>{{/unsubscribe_url}}
</td></tr>
</table>
</td></tr></table>
</body>
</html>
',
'text', '{{{content}}}

--
Cinema Online, 12 Tverskaya St, Moscow 125009, Russia
{{#preferences_url}}Notification settings: {{preferences_url}}
{{/preferences_url}}{{#unsubscribe_url}}Unsubscribe: {{unsubscribe_url}}
{{/unsubscribe_url}}'
),
'ru', JSON_OBJECT(
'html', '<!doctype html>
<html lang="ru">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{subject}}</title></head>
<body style="margin:0;padding:0;background:#f4f4f5;font-family:Arial,Helvetica,sans-serif;color:#18181b">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border-radius:8px">
<tr><td style="padding:20px 32px;background:#111827;color:#ffffff;font-size:20px;font-weight:bold;border-radius:8px 8px 0 0">Онлайн-кинотеатр</td></tr>
<tr><td style="padding:32px;font-size:16px;line-height:1.5">{{{content}}}</td></tr>
<tr><td style="padding:20px 32px;font-size:12px;line-height:1.5;color:#71717a;border-top:1px solid #e4e4e7">
Онлайн-кинотеатр, ул. Тверская, 12, Москва, 125009, Россия<br>
{{#preferences_url}}<a href="{{preferences_url}}" style="color:#71717a">Настройки уведомлений</a>{{/preferences_url}}
{{#unsubscribe_url}} &middot; <a href="{{unsubscribe_url}}" style="color:#71717a">Отписаться</a>{{/unsubscribe_url}}
</td></tr>
</table>
</td></tr></table>
</body>
</html>
',
'text', '{{{content}}}

--
Онлайн-кинотеатр, ул. Тверская, 12, Москва, 125009, Россия
{{#preferences_url}}Настройки уведомлений: {{preferences_url}}
{{/preferences_url}}{{#unsubscribe_url}}Отписаться: {{unsubscribe_url}}
{{/unsubscribe_url}}'
)
),
'migration');
