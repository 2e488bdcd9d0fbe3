{{/* Names, labels and the pod spec shared by the tiers. */}}

{{- define "ntsb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ntsb.fullname" -}}
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

{{- define "ntsb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "ntsb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ntsb-analytics
{{- end -}}

{{- define "ntsb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ntsb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ntsb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ntsb.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ntsb.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Restricted pod security: the pod part. */}}
{{- define "ntsb.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Restricted pod security: the container part. */}}
{{- define "ntsb.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Secrets as files (never environment values) and the optional Redis URL. */}}
{{- define "ntsb.secretEnv" -}}
- name: NTSB_DATABASE_URL_FILE
  value: /run/secrets/ntsb/database-url
- name: NTSB_JWT_SECRET_FILE
  value: /run/secrets/ntsb/jwt-secret
{{- with .Values.secrets.jwtVerifyKeys }}
- name: NTSB_JWT_VERIFY_KEY_FILES
  value: {{ range $i, $k := . }}{{ if $i }},{{ end }}/run/secrets/ntsb/jwt-verify-{{ $i }}{{ end }}
{{- end }}
- name: NTSB_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.existingSecret }}
      key: {{ .Values.secrets.redisUrlKey }}
      optional: true
{{- end -}}

{{- define "ntsb.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ .Values.secrets.existingSecret }}
    defaultMode: 0400
    items:
      - key: {{ .Values.secrets.databaseUrlKey }}
        path: database-url
      - key: {{ .Values.secrets.jwtSecretKey }}
        path: jwt-secret
      {{- range $i, $k := .Values.secrets.jwtVerifyKeys }}
      - key: {{ $k }}
        path: jwt-verify-{{ $i }}
      {{- end }}
{{- end -}}

{{/*
A tier's Deployment. Call with (dict "root" $ "tier" "api" "values" .Values.api).
*/}}
{{- define "ntsb.deployment" -}}
{{- $root := .root -}}
{{- $v := .values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "ntsb.fullname" $root }}-{{ .tier }}
  labels:
    {{- include "ntsb.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .tier }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels:
      {{- include "ntsb.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ .tier }}
  template:
    metadata:
      labels:
        {{- include "ntsb.selectorLabels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .tier }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- with $root.Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "ntsb.serviceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "ntsb.podSecurityContext" $root | nindent 8 }}
      terminationGracePeriodSeconds: 40
      containers:
        - name: ntsb
          image: {{ include "ntsb.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["serve", "--production", "--role", "{{ .tier }}", "--listen", "0.0.0.0:8080"]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "ntsb.fullname" $root }}
          env:
            {{- include "ntsb.secretEnv" $root | nindent 12 }}
            - name: NTSB_DATA_DIR
              value: /var/lib/ntsb
          securityContext:
            {{- include "ntsb.containerSecurityContext" $root | nindent 12 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          startupProbe:
            httpGet: {path: /health, port: http}
            {{- toYaml $root.Values.probes.startup | nindent 12 }}
          livenessProbe:
            httpGet: {path: /health, port: http}
            {{- toYaml $root.Values.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet: {path: /ready, port: http}
            {{- toYaml $root.Values.probes.readiness | nindent 12 }}
          volumeMounts:
            - {name: data, mountPath: /var/lib/ntsb}
            - {name: tmp, mountPath: /tmp}
            - {name: secrets, mountPath: /run/secrets/ntsb, readOnly: true}
            {{- if eq .tier "ml" }}
            - {name: models, mountPath: /var/lib/ntsb/models, readOnly: true}
            {{- end }}
      volumes:
        # The search index is a local projection, rebuilt from the store.
        - name: data
          emptyDir: {sizeLimit: 4Gi}
        - name: tmp
          emptyDir: {sizeLimit: 256Mi}
        {{- include "ntsb.secretVolume" $root | nindent 8 }}
        {{- if eq .tier "ml" }}
        - name: models
          {{- if $v.models.existingClaim }}
          persistentVolumeClaim:
            claimName: {{ $v.models.existingClaim }}
            readOnly: true
          {{- else }}
          emptyDir: {sizeLimit: 1Gi}
          {{- end }}
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $v.affinity }}
      affinity:
        {{- toYaml $v.affinity | nindent 8 }}
      {{- else }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "ntsb.selectorLabels" $root | nindent 14 }}
              app.kubernetes.io/component: {{ .tier }}
      {{- end }}
{{- end -}}

{{/* A tier's HorizontalPodAutoscaler. */}}
{{- define "ntsb.hpa" -}}
{{- $root := .root -}}
{{- $a := .values.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "ntsb.fullname" $root }}-{{ .tier }}
  labels:
    {{- include "ntsb.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .tier }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "ntsb.fullname" $root }}-{{ .tier }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $a.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end -}}

{{/* A tier's Service. */}}
{{- define "ntsb.service" -}}
{{- $root := .root -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "ntsb.fullname" $root }}-{{ .tier }}
  labels:
    {{- include "ntsb.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .tier }}
spec:
  type: {{ $root.Values.service.type }}
  ports:
    - name: http
      port: {{ $root.Values.service.port }}
      targetPort: http
      protocol: TCP
  selector:
    {{- include "ntsb.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .tier }}
{{- end -}}
