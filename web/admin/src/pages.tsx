import type { ComponentType, ReactNode } from "react";
import { AccountPage } from "./pages/account.js";
import { AdminUsersPage } from "./pages/admin-users.js";
import { ApiKeysPage } from "./pages/api-keys.js";
import { CampaignPage } from "./pages/campaign.js";
import { CampaignWizardPage } from "./pages/campaign-wizard.js";
import { CampaignsPage, RunningCampaignsWidget } from "./pages/campaigns.js";
import { DeadLettersPage } from "./pages/dead-letters.js";
import { DashboardPage } from "./pages/dashboard.js";
import { NotificationPage, NotificationsPage } from "./pages/notifications.js";
import { SettingsPage } from "./pages/settings.js";
import { TemplateEditorPage } from "./pages/template-editor.js";
import { TemplatesPage } from "./pages/templates.js";
import { TriggerRulesPage } from "./pages/trigger-rules.js";
import type { Scope } from "./session.js";

export interface PageDef {
  /** Path pattern below /admin, e.g. "/templates/:key". */
  path: string;
  /** English title (translated in the nav); pages without one are not in the nav. */
  nav?: string;
  /** The nav hides pages the session lacks the scope for; the server refuses their calls anyway. */
  scope: Scope;
  render: (params: Record<string, string>) => ReactNode;
}

/**
 * Cards on the dashboard from other areas (running campaigns, dead letters...). An area's page module
 * adds its widget here next to its PAGES entries.
 */
export const DASHBOARD_WIDGETS: ComponentType[] = [RunningCampaignsWidget];

/**
 * Every page of the panel, in nav order. A new area (campaigns, trigger rules, settings, dead letters)
 * is one page module under pages/ and its entries here; it calls its own generated service with
 * client(Service) from api.ts.
 */
export const PAGES: PageDef[] = [
  { path: "/", nav: "Dashboard", scope: "read", render: () => <DashboardPage widgets={DASHBOARD_WIDGETS} /> },
  { path: "/templates", nav: "Templates", scope: "read", render: () => <TemplatesPage /> },
  { path: "/templates/new", scope: "manage", render: () => <TemplateEditorPage params={{}} /> },
  { path: "/templates/:key", scope: "read", render: (p) => <TemplateEditorPage params={p} /> },
  { path: "/campaigns", nav: "Campaigns", scope: "read", render: () => <CampaignsPage /> },
  { path: "/campaigns/new", scope: "manage", render: () => <CampaignWizardPage /> },
  { path: "/campaigns/:id", scope: "read", render: (p) => <CampaignPage params={p} /> },
  { path: "/rules", nav: "Trigger rules", scope: "read", render: () => <TriggerRulesPage /> },
  { path: "/notifications", nav: "Notifications", scope: "read", render: () => <NotificationsPage /> },
  { path: "/notifications/:id", scope: "read", render: (p) => <NotificationPage params={p} /> },
  { path: "/dead-letters", nav: "Dead letters", scope: "read", render: () => <DeadLettersPage /> },
  { path: "/settings", nav: "Settings", scope: "read", render: () => <SettingsPage /> },
  { path: "/keys", nav: "API keys", scope: "admin", render: () => <ApiKeysPage /> },
  { path: "/users", nav: "Admin users", scope: "admin", render: () => <AdminUsersPage /> },
  { path: "/account", scope: "read", render: () => <AccountPage /> },
];
