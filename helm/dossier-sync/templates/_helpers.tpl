{{/* Common names and labels. */}}
{{- define "ds.fullname" -}}
{{- printf "%s" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "ds.labels" -}}
app.kubernetes.io/part-of: dossier-sync
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* selector labels of one component: (dict "ctx" $ "component" "intake") */}}
{{- define "ds.selector" -}}
app.kubernetes.io/name: dossier-{{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "ds.secretName" -}}{{ include "ds.fullname" . }}-secrets{{- end -}}
{{- define "ds.configName" -}}{{ include "ds.fullname" . }}-config{{- end -}}

{{/* The hardened pod and container security contexts every service uses. */}}
{{- define "ds.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "ds.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Probes: the metrics port's /readyz (NOT_SERVING while storage is down and from the first moment
     of a shutdown) and /livez (the process and its health loop run; an outage elsewhere never
     restarts a pod). The same truth as gRPC's health service, with or without TLS. A preStop
     sleep keeps the pod serving while Kubernetes takes it out of the Service's endpoints, so a
     rolling update drains without CANCELLED calls; then SIGTERM: NOT_SERVING, drain within the
     grace, exit. (dict "ctx" $ "port" 50051 "metricsPort" 9101) */}}
{{- define "ds.probes" -}}
readinessProbe:
  httpGet: {path: /readyz, port: metrics}
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  httpGet: {path: /livez, port: metrics}
  periodSeconds: 10
  failureThreshold: 6
startupProbe:
  httpGet: {path: /livez, port: metrics}
  periodSeconds: 2
  failureThreshold: 60
lifecycle:
  preStop:
    sleep: {seconds: {{ .ctx.Values.shutdown.preStopSeconds }}}
{{- end -}}

{{/* The pod's termination grace: the preStop delay, the process's own drain, a margin.
     (dict "ctx" $ "drain" 20) */}}
{{- define "ds.terminationGrace" -}}
terminationGracePeriodSeconds: {{ add .ctx.Values.shutdown.preStopSeconds .drain 10 }}
{{- end -}}

{{/* Environment shared by the services: the ConfigMap, TLS and token files. */}}
{{- define "ds.commonEnv" -}}
- name: DOSSIERSYNC_KAFKA_BROKERS
  valueFrom: {configMapKeyRef: {name: {{ include "ds.configName" .ctx }}, key: kafka_brokers}}
- name: DOSSIERSYNC_LOG_LEVEL
  valueFrom: {configMapKeyRef: {name: {{ include "ds.configName" .ctx }}, key: log_level}}
- name: DOSSIERSYNC_LISTEN
  value: "0.0.0.0:{{ .port }}"
- name: DOSSIERSYNC_METRICS_LISTEN
  value: "0.0.0.0:{{ .metricsPort }}"
- name: DOSSIERSYNC_DATABASE
  valueFrom: {secretKeyRef: {name: {{ .ctx.Values.postgres.existingSecret | default (include "ds.secretName" .ctx) }}, key: {{ .component }}-database}}
- name: DOSSIERSYNC_AUTH_TOKENS_FILE
  value: /etc/dossier-sync/auth/tokens
{{- if .ctx.Values.tls.enabled }}
- name: DOSSIERSYNC_TLS_CERT_FILE
  value: /etc/dossier-sync/tls/tls.crt
- name: DOSSIERSYNC_TLS_KEY_FILE
  value: /etc/dossier-sync/tls/tls.key
{{- if .ctx.Values.tls.mutual }}
- name: DOSSIERSYNC_TLS_CLIENT_CA_FILE
  value: /etc/dossier-sync/tls/ca.crt
{{- end }}
{{- else }}
- name: DOSSIERSYNC_ALLOW_INSECURE
  value: "true"
{{- end }}
{{- end -}}

{{- define "ds.commonMounts" -}}
- {name: auth, mountPath: /etc/dossier-sync/auth, readOnly: true}
- {name: tmp, mountPath: /tmp}
{{- if .Values.tls.enabled }}
- {name: tls, mountPath: /etc/dossier-sync/tls, readOnly: true}
{{- end }}
{{- end -}}

{{- define "ds.commonVolumes" -}}
- name: auth
  secret: {secretName: {{ .Values.auth.existingSecret | default (include "ds.secretName" .) }}, items: [{key: tokens, path: tokens}], defaultMode: 0440}
- name: tmp
  emptyDir: {}
{{- if .Values.tls.enabled }}
- name: tls
  secret: {secretName: {{ .Values.tls.secretName }}, defaultMode: 0440}
{{- end }}
{{- end -}}

{{- define "ds.dvcqgEnv" -}}
- name: DOSSIERSYNC_DVCQG_URL
  valueFrom: {configMapKeyRef: {name: {{ include "ds.configName" . }}, key: dvcqg_url}}
- name: DOSSIERSYNC_DVCQG_AGENCY_CODE
  valueFrom: {configMapKeyRef: {name: {{ include "ds.configName" . }}, key: dvcqg_agency_code}}
- name: DOSSIERSYNC_DVCQG_CREDENTIALS_FILE
  value: /etc/dossier-sync/dvcqg/credentials
{{- end -}}

{{- define "ds.dvcqgVolume" -}}
- name: dvcqg
  secret: {secretName: {{ .Values.dvcqg.existingSecret | default (include "ds.secretName" .) }}, items: [{key: credentials, path: credentials}], defaultMode: 0440}
{{- end -}}

{{/* One Service per component: gRPC and metrics ports. */}}
{{- define "ds.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "ds.fullname" .ctx }}-{{ .component }}
  labels:
    {{- include "ds.labels" .ctx | nindent 4 }}
    {{- include "ds.selector" . | nindent 4 }}
spec:
  selector:
    {{- include "ds.selector" . | nindent 4 }}
  ports:
    - {name: grpc, port: {{ .port }}, targetPort: grpc, appProtocol: grpc}
    - {name: metrics, port: {{ .metricsPort }}, targetPort: metrics}
{{- end -}}
