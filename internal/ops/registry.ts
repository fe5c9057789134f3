import { createRegistry, type DescFile, type Registry } from "@bufbuild/protobuf";
import { file_grpc_reflection_v1_reflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_health_v1_health } from "../../gen/health/v1/health_pb.js";
import { file_notify_v1_notification_service } from "../../gen/notify/v1/notification_service_pb.js";
import { file_notify_v1_campaign_service } from "../../gen/notify/v1/campaign_service_pb.js";
import { file_notify_v1_template_service } from "../../gen/notify/v1/template_service_pb.js";
import { file_notify_v1_admin_service } from "../../gen/notify/v1/admin_service_pb.js";
import { file_notify_v1_ops_service } from "../../gen/notify/v1/ops_service_pb.js";
import { file_notify_v1_events } from "../../gen/notify/v1/events_pb.js";
import { file_notify_v1_trigger_service } from "../../gen/notify/v1/trigger_service_pb.js";
import { file_notify_v1_settings_service } from "../../gen/notify/v1/settings_service_pb.js";
import { file_notify_v1_inbox_service } from "../../gen/notify/v1/inbox_service_pb.js";
import { file_notify_v1_preference_service } from "../../gen/notify/v1/preference_service_pb.js";
import { file_cinema_users_v1_demo_admin_service } from "../../gen/cinema/users/v1/demo_admin_service_pb.js";
import { file_cinema_users_v1_user_directory } from "../../gen/cinema/users/v1/user_directory_pb.js";

/** The gRPC infrastructure files every server of ours exposes (reflection and health). */
export const grpcInfraFiles: readonly DescFile[] = [
  file_grpc_reflection_v1_reflection,
  file_grpc_reflection_v1alpha_reflection,
  file_health_v1_health,
];

/**
 * Every proto file notifyd serves. A new proto file in gen/notify is one line here; imports
 * (google/protobuf/*) come along automatically as dependencies of the files.
 */
export const notifydFiles: readonly DescFile[] = [
  file_notify_v1_notification_service,
  file_notify_v1_template_service,
  file_notify_v1_events,
  file_notify_v1_trigger_service,
  file_notify_v1_settings_service,
  file_notify_v1_campaign_service,
  file_notify_v1_inbox_service,
  file_notify_v1_preference_service,
  file_notify_v1_ops_service,
  file_notify_v1_admin_service,
];

/**
 * The cinema's user-service contract. notifyd is a client of it, not a server, so it stays out of
 * notifyd's reflection (listing it there would advertise methods that answer Unimplemented); users-demo
 * serves it and can mount reflection with `createRegistry(...usersDemoFiles, ...grpcInfraFiles)`.
 */
export const usersDemoFiles: readonly DescFile[] = [
  file_cinema_users_v1_user_directory,
  file_cinema_users_v1_demo_admin_service,
];

/** The registry notifyd's reflection answers from: its own services plus reflection and health. */
export function createPlatformRegistry(): Registry {
  return createRegistry(...notifydFiles, ...grpcInfraFiles);
}
