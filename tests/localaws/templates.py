"""A CloudFormation template shaped like byok-vault's tenant stack, for the localaws tests."""

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  RoleName:
    Type: String
    Default: ByokVaultKMSRole
  ExternalId:
    Type: String
    MinLength: 8
    MaxLength: 128
    AllowedPattern: "[A-Za-z0-9+=,.@:/-]*"
  VaultToken:
    Type: String
    MinLength: 36
    MaxLength: 36
  UserMultiRegionCMKKeyId:
    Type: String
    Default: ""
  ServiceAccountId:
    Type: String
    Default: "111122223333"
    AllowedValues: ["111122223333"]
  CallbackTopicArn:
    Type: String
    Default: ""
Conditions:
  CreateKey: !Equals [!Ref UserMultiRegionCMKKeyId, ""]
  HasCallback: !Not [!Equals [!Ref CallbackTopicArn, ""]]
Resources:
  Key:
    Type: AWS::KMS::Key
    Condition: CreateKey
    Properties:
      Description: byok-vault tenant key
      MultiRegion: true
      EnableKeyRotation: true
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Sid: Root
            Effect: Allow
            Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
            Action: "kms:*"
            Resource: "*"
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Ref RoleName
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:aws:iam::${ServiceAccountId}:root"}
            Action: sts:AssumeRole
            Condition: {StringEquals: {"sts:ExternalId": !Ref ExternalId}}
      Policies:
        - PolicyName: byok-kms
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [kms:Encrypt, kms:Decrypt, kms:GenerateDataKey*, kms:DescribeKey]
                Resource: "*"
  Callback:
    Type: Custom::ByokVaultCallback
    Condition: HasCallback
    Properties:
      ServiceToken: !Ref CallbackTopicArn
      Token: !Ref VaultToken
      RoleArn: !GetAtt Role.Arn
      KeyArn: !If [CreateKey, !GetAtt Key.Arn, !Ref UserMultiRegionCMKKeyId]
Outputs:
  KeyArn:
    Value: !If [CreateKey, !GetAtt Key.Arn, !Ref UserMultiRegionCMKKeyId]
  RoleArn:
    Value: !GetAtt Role.Arn
  RoleName:
    Value: !Ref Role
"""

# Version 2 of the stack: the role may also replicate the key; the key is unchanged.
TEMPLATE_V2 = TEMPLATE.replace(
    "kms:GenerateDataKey*, kms:DescribeKey]",
    "kms:GenerateDataKey*, kms:DescribeKey, kms:ReplicateKey]",
)

# Version 3: like version 2, and the key's description changes (AWS updates it in place).
TEMPLATE_V3 = TEMPLATE_V2.replace("byok-vault tenant key", "byok-vault tenant key (v3)")
