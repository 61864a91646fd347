{{/* Names and labels shared by every template. */}}

{{- define "caw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "caw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "caw.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "caw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component (web, worker, migrate). */}}
{{- define "caw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "caw.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "caw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "caw.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "caw.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The Secret every container reads; installing without one is refused with the fix. */}}
{{- define "caw.secretName" -}}
{{- required "existingSecret: name the Secret holding DATABASE_URL, ENCRYPTION_KEYS, GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (see the chart README)" .Values.existingSecret -}}
{{- end -}}

{{/* A component's grace must outlast its drain, or Kubernetes kills it mid-drain. */}}
{{- define "caw.checkGrace" -}}
{{- if le (int .values.terminationGracePeriodSeconds) (int .values.drainGraceSeconds) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must be greater than %s.drainGraceSeconds (%v): Kubernetes would kill the pod before it drained" .component .values.terminationGracePeriodSeconds .component .values.drainGraceSeconds) -}}
{{- end -}}
{{- end -}}

{{/* Writable scratch space on a read-only root file system. */}}
{{- define "caw.scratchVolumes" -}}
- name: tmp
  emptyDir: {}
- name: data
  emptyDir: {}
{{- end -}}

{{- define "caw.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/cloud-ai-workspaces
{{- end -}}

{{/* The environment web and worker share: chart-set values, the ConfigMap, the Secret. */}}
{{- define "caw.envFrom" -}}
- configMapRef:
    name: {{ include "caw.fullname" . }}
- secretRef:
    name: {{ include "caw.secretName" . }}
{{- end -}}
