import { createContext, useContext } from "react";

export type Lang = "en" | "ru";

/**
 * English text is the key; Russian translations sit here. A missing translation shows the English,
 * so a new page works before it is translated.
 */
const RU: Record<string, string> = {
  "Sign in": "Войти",
  "Sign out": "Выйти",
  Email: "Email",
  Password: "Пароль",
  "Signing in…": "Вход…",
  Dashboard: "Обзор",
  Templates: "Шаблоны",
  Notifications: "Уведомления",
  "API keys": "API-ключи",
  "Admin users": "Администраторы",
  Account: "Учётная запись",
  Campaigns: "Рассылки",
  "Trigger rules": "Правила событий",
  Settings: "Настройки",
  "Dead letters": "Недоставленные",
  "Deliveries per hour, last 24 hours": "Доставки по часам за сутки",
  Sent: "Отправлено",
  Failed: "Ошибки",
  Skipped: "Пропущено",
  Dead: "Мёртвые",
  Queues: "Очереди",
  Queue: "Очередь",
  Pending: "В очереди",
  "In flight": "В работе",
  Redelivered: "Повторно",
  "Health and breakers": "Состояние и предохранители",
  Search: "Поиск",
  "New template": "Новый шаблон",
  Key: "Ключ",
  Name: "Название",
  Description: "Описание",
  Category: "Категория",
  Channels: "Каналы",
  "Default locale": "Язык по умолчанию",
  Layout: "Макет",
  None: "Нет",
  Variables: "Переменные",
  Type: "Тип",
  Required: "Обязательная",
  Sample: "Пример",
  "Add variable": "Добавить переменную",
  "Add locale": "Добавить язык",
  Remove: "Удалить",
  Preview: "Просмотр",
  "Preview as user id": "Просмотр для пользователя",
  Problems: "Проблемы",
  Save: "Сохранить",
  "Save draft": "Сохранить черновик",
  "Save and publish": "Сохранить и опубликовать",
  Publish: "Опубликовать",
  Published: "Опубликована",
  Versions: "Версии",
  Version: "Версия",
  Current: "Текущая",
  Draft: "Черновик",
  "Diff with current": "Сравнить с текущей",
  Diff: "Различия",
  "No differences": "Различий нет",
  "Send a test": "Тестовая отправка",
  "Send test": "Отправить тест",
  "Test sent": "Тест отправлен",
  Note: "Комментарий",
  Saved: "Сохранено",
  "Read only: your role cannot change this.": "Только чтение: ваша роль не позволяет изменять.",
  "Notification id, user id or email": "Id уведомления, пользователя или email",
  Created: "Создано",
  Template: "Шаблон",
  Channel: "Канал",
  Status: "Статус",
  Attempts: "Попытки",
  "Last error": "Последняя ошибка",
  History: "История",
  Recipient: "Получатель",
  Scopes: "Права",
  Create: "Создать",
  Revoke: "Отозвать",
  Revoked: "Отозван",
  Active: "Активен",
  "Last used": "Последнее использование",
  "Copy this key now; it is not shown again:": "Скопируйте ключ сейчас, он больше не будет показан:",
  Role: "Роль",
  Disabled: "Отключён",
  Disable: "Отключить",
  Enable: "Включить",
  "Reset password": "Сменить пароль",
  "Last sign-in": "Последний вход",
  "Change password": "Сменить пароль",
  "Current password": "Текущий пароль",
  "New password": "Новый пароль",
  "Password changed": "Пароль изменён",
  Language: "Язык",
  Refresh: "Обновить",
  Loading: "Загрузка",
  "Nothing found": "Ничего не найдено",
  Back: "Назад",
  "Signed in as": "Вы вошли как",
  Open: "Открыть",
  Close: "Закрыть",
  Archived: "В архиве",
  Archive: "В архив",
  Restore: "Восстановить",
  "Show archived": "Показать архивные",
  Locale: "Язык",
  Address: "Адрес",
};

export function translate(lang: Lang, s: string): string {
  return lang === "ru" ? (RU[s] ?? s) : s;
}

export function initialLang(): Lang {
  const saved = localStorage.getItem("admin.lang");
  if (saved === "en" || saved === "ru") return saved;
  return navigator.language.toLowerCase().startsWith("ru") ? "ru" : "en";
}

export const LangContext = createContext<{ lang: Lang; setLang: (l: Lang) => void }>({ lang: "en", setLang: () => undefined });

/** t("English text") in the chosen language. */
export function useT(): (s: string) => string {
  const { lang } = useContext(LangContext);
  return (s) => translate(lang, s);
}
